//! R1 add and R5 inspect: what a new job looks like and how it is read back.

use std::time::Duration;

use remote_core::{Error, JobId, JobQuery, JobStatus};
use serde_json::json;

use crate::support::{t0, Harness, TestStore};

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_jobs {
    ($make:expr) => {
        $crate::__area!($make; jobs {
            r1_add_stores_a_queued_job,
            r1_add_unknown_job_is_a_typed_error_and_stores_nothing,
            r1_add_takes_retry_defaults_from_the_factory,
            r1_omitted_input_takes_the_factory_default,
            r1_add_job_at_is_not_pulled_before_its_time,
            r1_add_jobs_stores_a_batch_in_order,
            r5_result_is_none_until_completed,
            r5_unknown_id_is_not_found_everywhere,
            r5_get_job_reads_back_every_field,
            r5_list_jobs_filters_by_status_and_name,
            r5_list_jobs_pages_newest_first,
            r5_count_jobs_counts_every_status,
        });
    };
}

/// R1: `add_job` stores status queued, `queued_at = now`, no attempts, no output.
pub async fn r1_add_stores_a_queued_job(store: TestStore) {
    let h = Harness::new(store);
    let id = h.p.add_job("echo", json!({"foo": "bar"})).await.unwrap();
    let job = h.p.get_job(&id).await.unwrap();
    assert_eq!(job.id, id);
    assert_eq!(job.job_name, "echo");
    assert_eq!(job.input, json!({"foo": "bar"}));
    assert_eq!(job.status, JobStatus::Queued);
    assert_eq!(job.queued_at, t0());
    assert_eq!(job.attempt, 0);
    assert_eq!(job.output, None);
    assert_eq!(job.not_before, None);
    assert_eq!(job.picked_at, None);
    assert_eq!(job.completed_at, None);
    assert!(h.p.job_errors(&id).await.unwrap().is_empty());
}

/// R1: an unregistered name fails with an error naming the job; nothing is stored.
pub async fn r1_add_unknown_job_is_a_typed_error_and_stores_nothing(store: TestStore) {
    let h = Harness::new(store);
    match h.p.add_job("nope", json!({})).await {
        Err(Error::UnknownJob(name)) => assert_eq!(name, "nope"),
        other => panic!("expected UnknownJob, got {other:?}"),
    }
    let all = h.p.list_jobs(&JobQuery::default()).await.unwrap();
    assert!(all.is_empty(), "nothing stored: {all:?}");
}

/// R1: `max_attempts` and `retry_delay` come from the factory (defaults 3 and 10 s).
pub async fn r1_add_takes_retry_defaults_from_the_factory(store: TestStore) {
    let h = Harness::new(store);
    let echo = h.p.add_job("echo", json!(1)).await.unwrap();
    let job = h.p.get_job(&echo).await.unwrap();
    assert_eq!(job.max_attempts, 3);
    assert_eq!(job.retry_delay, Duration::from_secs(10));
    let sleep = h.p.add_job("sleep", json!([0, 1])).await.unwrap();
    assert_eq!(
        h.p.get_job(&sleep).await.unwrap().retry_delay,
        Duration::from_secs(1)
    );
}

/// R1: input omitted → the factory's default input.
pub async fn r1_omitted_input_takes_the_factory_default(store: TestStore) {
    let h = Harness::new(store);
    let p = h.processor("custom");
    p.register(
        remote_core::JobFactory::new(
            "greet",
            remote_core::handler_fn(|ctx: remote_core::JobContext| async move {
                Ok::<_, remote_core::JobError>(ctx.input)
            }),
        )
        .default_input(json!({"who": "world"})),
    )
    .unwrap();
    let id = p.add_job("greet", None).await.unwrap();
    assert_eq!(p.get_job(&id).await.unwrap().input, json!({"who": "world"}));
    let given = p.add_job("greet", json!({"who": "you"})).await.unwrap();
    assert_eq!(
        p.get_job(&given).await.unwrap().input,
        json!({"who": "you"})
    );
}

/// R1: `add_job_at` queues a job that is not pulled before `not_before`.
pub async fn r1_add_job_at_is_not_pulled_before_its_time(store: TestStore) {
    let h = Harness::new(store);
    let later = t0() + chrono::TimeDelta::seconds(60);
    let id = h.p.add_job_at("echo", json!(1), later).await.unwrap();
    assert_eq!(h.p.get_job(&id).await.unwrap().not_before, Some(later));
    assert!(h.p.pull_next_job().await.unwrap().is_none());
    h.advance(Duration::from_secs(59));
    assert!(h.p.pull_next_job().await.unwrap().is_none());
    h.advance(Duration::from_secs(1));
    let job =
        h.p.pull_next_job()
            .await
            .unwrap()
            .expect("due at not_before");
    assert_eq!(job.id, id);
}

/// R1: `add_jobs` stores many jobs in one call, pulled in the order given.
pub async fn r1_add_jobs_stores_a_batch_in_order(store: TestStore) {
    let h = Harness::new(store);
    let ids =
        h.p.add_jobs("echo", (0..5).map(|n| json!(n)).collect())
            .await
            .unwrap();
    assert_eq!(ids.len(), 5);
    for id in &ids {
        let job = h.p.pull_next_job().await.unwrap().expect("a job");
        assert_eq!(&job.id, id);
    }
}

/// R5: `job_result` is none until the job completed, then the output.
pub async fn r5_result_is_none_until_completed(store: TestStore) {
    let h = Harness::new(store);
    let id = h.p.add_job("echo", json!({"foo": "bar"})).await.unwrap();
    assert_eq!(h.p.job_result(&id).await.unwrap(), None);
    h.p.pull_next_job().await.unwrap();
    assert_eq!(h.p.job_result(&id).await.unwrap(), None);
    h.p.process_job(&id).await.unwrap();
    assert_eq!(h.status(&id).await, JobStatus::Completed);
    assert_eq!(
        h.p.job_result(&id).await.unwrap(),
        Some(json!({"foo": "bar"}))
    );
}

/// R5: every read of an unknown id is a typed not-found error.
pub async fn r5_unknown_id_is_not_found_everywhere(store: TestStore) {
    let h = Harness::new(store);
    let id = JobId::new();
    assert!(matches!(h.p.get_job(&id).await, Err(Error::JobNotFound(x)) if x == id));
    assert!(matches!(
        h.p.job_status(&id).await,
        Err(Error::JobNotFound(_))
    ));
    assert!(matches!(
        h.p.job_result(&id).await,
        Err(Error::JobNotFound(_))
    ));
    assert!(matches!(
        h.p.job_errors(&id).await,
        Err(Error::JobNotFound(_))
    ));
    assert!(matches!(
        h.p.cancel_job(&id).await,
        Err(Error::JobNotFound(_))
    ));
    assert!(matches!(
        h.p.process_job(&id).await,
        Err(Error::JobNotFound(_))
    ));
}

/// R5 and Time: a processed job reads back with every field as written, to the millisecond.
pub async fn r5_get_job_reads_back_every_field(store: TestStore) {
    let h = Harness::new(store);
    h.clock.set(t0() + chrono::TimeDelta::milliseconds(1234));
    let id = h.p.add_job("echo", json!({"n": 1})).await.unwrap();
    h.advance(Duration::from_millis(5));
    let claimed = h.p.pull_next_job().await.unwrap().unwrap();
    assert_eq!(claimed.status, JobStatus::Processing);
    assert_eq!(claimed.attempt, 1);
    assert_eq!(claimed.picked_at, Some(h.p.now()));
    assert_eq!(
        claimed.lease_until,
        Some(h.p.now() + chrono::TimeDelta::seconds(30))
    );
    assert!(claimed.lease_token.is_some());
    let stored = h.p.get_job(&id).await.unwrap();
    assert_eq!(stored, claimed, "the claim returns the job as stored");
    h.advance(Duration::from_millis(7));
    h.p.process_job(&id).await.unwrap();
    let done = h.p.get_job(&id).await.unwrap();
    assert_eq!(done.queued_at, t0() + chrono::TimeDelta::milliseconds(1234));
    assert_eq!(
        done.picked_at,
        Some(t0() + chrono::TimeDelta::milliseconds(1239))
    );
    assert_eq!(
        done.completed_at,
        Some(t0() + chrono::TimeDelta::milliseconds(1246))
    );
    assert_eq!(done.output, Some(json!({"n": 1})));
    assert_eq!(done.lease_until, None);
    assert_eq!(done.lease_token, None);
}

/// R5: listing filters by status and by job name.
pub async fn r5_list_jobs_filters_by_status_and_name(store: TestStore) {
    let h = Harness::new(store);
    let e1 = h.p.add_job("echo", json!(1)).await.unwrap();
    let f1 = h.p.add_job("fatal", None).await.unwrap();
    let e2 = h.p.add_job("echo", json!(2)).await.unwrap();
    h.p.cancel_job(&e2).await.unwrap();
    let ids = |jobs: Vec<remote_core::Job>| jobs.into_iter().map(|j| j.id).collect::<Vec<_>>();
    let echo = JobQuery {
        job_name: Some("echo".into()),
        ..Default::default()
    };
    assert_eq!(
        ids(h.p.list_jobs(&echo).await.unwrap()),
        vec![e2.clone(), e1.clone()]
    );
    let queued = JobQuery {
        statuses: vec![JobStatus::Queued],
        ..Default::default()
    };
    assert_eq!(
        ids(h.p.list_jobs(&queued).await.unwrap()),
        vec![f1.clone(), e1.clone()]
    );
    let queued_echo = JobQuery {
        statuses: vec![JobStatus::Queued],
        job_name: Some("echo".into()),
        ..Default::default()
    };
    assert_eq!(ids(h.p.list_jobs(&queued_echo).await.unwrap()), vec![e1]);
    let cancelled_or_queued = JobQuery {
        statuses: vec![JobStatus::Cancelled, JobStatus::Queued],
        job_name: Some("fatal".into()),
        ..Default::default()
    };
    assert_eq!(
        ids(h.p.list_jobs(&cancelled_or_queued).await.unwrap()),
        vec![f1]
    );
}

/// R5: listing sorts by creation, newest first by default, and pages.
pub async fn r5_list_jobs_pages_newest_first(store: TestStore) {
    let h = Harness::new(store);
    let mut ids = Vec::new();
    for n in 0..7 {
        ids.push(h.p.add_job("echo", json!(n)).await.unwrap());
        h.advance(Duration::from_millis(1));
    }
    let page = |offset, limit, oldest_first| JobQuery {
        offset,
        limit: Some(limit),
        oldest_first,
        ..Default::default()
    };
    let got = |jobs: Vec<remote_core::Job>| jobs.into_iter().map(|j| j.id).collect::<Vec<_>>();
    let newest: Vec<JobId> = ids.iter().rev().cloned().collect();
    assert_eq!(
        got(h.p.list_jobs(&page(0, 3, false)).await.unwrap()),
        newest[0..3]
    );
    assert_eq!(
        got(h.p.list_jobs(&page(3, 3, false)).await.unwrap()),
        newest[3..6]
    );
    assert_eq!(
        got(h.p.list_jobs(&page(6, 3, false)).await.unwrap()),
        newest[6..7]
    );
    assert_eq!(
        got(h.p.list_jobs(&page(2, 2, true)).await.unwrap()),
        ids[2..4]
    );
    assert!(h.p.list_jobs(&page(7, 3, false)).await.unwrap().is_empty());
}

/// R5: counting by status is one call and includes zeros.
pub async fn r5_count_jobs_counts_every_status(store: TestStore) {
    let h = Harness::new(store);
    let counts = h.p.count_jobs().await.unwrap();
    assert_eq!(counts.len(), 5);
    assert!(counts.values().all(|n| *n == 0));
    h.p.add_job("echo", json!(1)).await.unwrap();
    h.p.add_job("echo", json!(2)).await.unwrap();
    let c = h.p.add_job("echo", json!(3)).await.unwrap();
    h.p.cancel_job(&c).await.unwrap();
    h.p.add_job("error", None).await.unwrap();
    h.p.pull_next_job().await.unwrap();
    let counts = h.p.count_jobs().await.unwrap();
    assert_eq!(counts[&JobStatus::Queued], 2);
    assert_eq!(counts[&JobStatus::Processing], 1);
    assert_eq!(counts[&JobStatus::Cancelled], 1);
    assert_eq!(counts[&JobStatus::Completed], 0);
    assert_eq!(counts[&JobStatus::Error], 0);
}
