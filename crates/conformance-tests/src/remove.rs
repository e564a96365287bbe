//! R6 remove: ended jobs and their error records are deleted by status; live jobs never are.

use std::collections::BTreeMap;
use std::time::Duration;

use remote_core::{Error, Job, JobId, JobQuery, JobStatus, StatusCounts};
use serde_json::json;

use crate::support::{Harness, TestStore};

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_remove {
    ($make:expr) => {
        $crate::__area!($make; remove {
            r6_default_removes_ended_jobs_with_the_doctest_counts,
            r6_default_reports_zeros_on_an_empty_store,
            r6_queued_or_processing_is_refused_and_removes_nothing,
            r6_explicit_subset_removes_only_those_statuses,
            r6_counts_include_zeros_for_asked_statuses,
            r6_removed_jobs_and_their_errors_are_gone,
            r6_live_jobs_are_untouched,
            r6_removal_in_batches_keeps_to_the_name_asked,
        });
    };
}

fn counts(pairs: &[(JobStatus, u64)]) -> StatusCounts {
    pairs.iter().copied().collect::<BTreeMap<_, _>>()
}

/// One job in each status: `[queued, processing, completed, cancelled, error]` (the error job
/// failed permanently, the queued one waits for a retry after one failure).
async fn one_of_each(h: &Harness) -> Vec<JobId> {
    let completed = h.p.add_job("echo", json!("done")).await.unwrap();
    let error = h.p.add_job("error", None).await.unwrap();
    let queued = h.p.add_job("fatal", None).await.unwrap();
    for _ in 0..3 {
        assert!(h.p.process_next_job().await.unwrap());
    }
    let cancelled = h.p.add_job("echo", json!("cancelled")).await.unwrap();
    h.p.cancel_job(&cancelled).await.unwrap();
    let processing = h.p.add_job("echo", json!("running")).await.unwrap();
    assert_eq!(h.p.pull_next_job().await.unwrap().unwrap().id, processing);
    let ids = vec![queued, processing, completed, cancelled, error];
    let expected = [
        JobStatus::Queued,
        JobStatus::Processing,
        JobStatus::Completed,
        JobStatus::Cancelled,
        JobStatus::Error,
    ];
    for (id, status) in ids.iter().zip(expected) {
        assert_eq!(h.status(id).await, status);
    }
    ids
}

async fn all_jobs(h: &Harness) -> Vec<Job> {
    h.p.list_jobs(&JobQuery {
        oldest_first: true,
        ..Default::default()
    })
    .await
    .unwrap()
}

/// R6: with no statuses, `remove_jobs` deletes cancelled, completed and error jobs and returns
/// the doctest's `{cancelled: 1, completed: 1, error: 2}`; the queued job stays and is pulled.
pub async fn r6_default_removes_ended_jobs_with_the_doctest_counts(store: TestStore) {
    let h = Harness::new(store);
    let done = h.p.add_job("echo", json!({"foo": "bar"})).await.unwrap();
    let cancelled = h.p.add_job("echo", json!({"foo": "bar"})).await.unwrap();
    h.p.cancel_job(&cancelled).await.unwrap();
    let error = h.p.add_job("error", None).await.unwrap();
    let fatal = h.p.add_job("fatal", None).await.unwrap();
    for _ in 0..3 {
        while h.p.process_next_job().await.unwrap() {}
        h.advance(Duration::from_secs(10));
    }
    assert_eq!(h.status(&done).await, JobStatus::Completed);
    assert_eq!(h.status(&error).await, JobStatus::Error);
    assert_eq!(h.status(&fatal).await, JobStatus::Error);
    let waiting = h.p.add_job("echo", json!({"blah": "blah"})).await.unwrap();
    let removed = h.p.remove_jobs(&[]).await.unwrap();
    assert_eq!(
        removed,
        counts(&[
            (JobStatus::Completed, 1),
            (JobStatus::Cancelled, 1),
            (JobStatus::Error, 2),
        ])
    );
    let left: Vec<JobId> = all_jobs(&h).await.into_iter().map(|j| j.id).collect();
    assert_eq!(left, vec![waiting.clone()]);
    let count = h.p.count_jobs().await.unwrap();
    assert_eq!(count[&JobStatus::Queued], 1);
    assert_eq!(count.values().sum::<u64>(), 1);
    assert_eq!(
        h.p.remove_jobs(&[]).await.unwrap(),
        counts(&[
            (JobStatus::Completed, 0),
            (JobStatus::Cancelled, 0),
            (JobStatus::Error, 0),
        ]),
        "a second call finds nothing"
    );
    assert_eq!(h.p.pull_next_job().await.unwrap().unwrap().id, waiting);
}

/// R6: removing from an empty store returns a zero for each of the three default statuses.
pub async fn r6_default_reports_zeros_on_an_empty_store(store: TestStore) {
    let h = Harness::new(store);
    assert_eq!(
        h.p.remove_jobs(&[]).await.unwrap(),
        counts(&[
            (JobStatus::Completed, 0),
            (JobStatus::Cancelled, 0),
            (JobStatus::Error, 0),
        ])
    );
}

/// R6: asking for `queued` or `processing` (alone or with ended statuses) is
/// `InvalidRemoveStatus` and removes nothing at all.
pub async fn r6_queued_or_processing_is_refused_and_removes_nothing(store: TestStore) {
    let h = Harness::new(store);
    one_of_each(&h).await;
    let before = all_jobs(&h).await;
    for ask in [
        vec![JobStatus::Queued],
        vec![JobStatus::Processing],
        vec![JobStatus::Completed, JobStatus::Queued],
        vec![
            JobStatus::Error,
            JobStatus::Cancelled,
            JobStatus::Processing,
        ],
    ] {
        match h.p.remove_jobs(&ask).await {
            Err(Error::InvalidRemoveStatus(status)) => {
                assert!(
                    matches!(status, JobStatus::Queued | JobStatus::Processing),
                    "names the live status, got {status}"
                );
                assert!(ask.contains(&status));
            }
            other => panic!("expected InvalidRemoveStatus for {ask:?}, got {other:?}"),
        }
        assert_eq!(all_jobs(&h).await, before, "nothing removed for {ask:?}");
    }
}

/// R6: an explicit list removes only jobs of those statuses and counts exactly those.
pub async fn r6_explicit_subset_removes_only_those_statuses(store: TestStore) {
    let h = Harness::new(store);
    let ids = one_of_each(&h).await;
    let (completed, cancelled, error) = (&ids[2], &ids[3], &ids[4]);
    assert_eq!(
        h.p.remove_jobs(&[JobStatus::Completed]).await.unwrap(),
        counts(&[(JobStatus::Completed, 1)])
    );
    assert!(matches!(
        h.p.get_job(completed).await,
        Err(Error::JobNotFound(_))
    ));
    assert_eq!(h.status(cancelled).await, JobStatus::Cancelled);
    assert_eq!(h.status(error).await, JobStatus::Error);
    assert_eq!(
        h.p.remove_jobs(&[JobStatus::Error]).await.unwrap(),
        counts(&[(JobStatus::Error, 1)])
    );
    assert!(matches!(
        h.p.get_job(error).await,
        Err(Error::JobNotFound(_))
    ));
    assert_eq!(h.status(cancelled).await, JobStatus::Cancelled);
    assert_eq!(
        h.p.remove_jobs(&[JobStatus::Cancelled]).await.unwrap(),
        counts(&[(JobStatus::Cancelled, 1)])
    );
    let left: Vec<JobId> = all_jobs(&h).await.into_iter().map(|j| j.id).collect();
    assert_eq!(left, vec![ids[0].clone(), ids[1].clone()]);
}

/// R6: every status asked for is in the result, zero when none was removed.
pub async fn r6_counts_include_zeros_for_asked_statuses(store: TestStore) {
    let h = Harness::new(store);
    for _ in 0..2 {
        h.p.add_job("error", None).await.unwrap();
    }
    h.p.add_job("echo", json!(1)).await.unwrap();
    while h.p.process_next_job().await.unwrap() {}
    assert_eq!(
        h.p.remove_jobs(&[JobStatus::Cancelled, JobStatus::Error])
            .await
            .unwrap(),
        counts(&[(JobStatus::Cancelled, 0), (JobStatus::Error, 2)])
    );
    assert_eq!(
        h.p.remove_jobs(&[JobStatus::Cancelled]).await.unwrap(),
        counts(&[(JobStatus::Cancelled, 0)])
    );
    assert_eq!(h.p.count_jobs().await.unwrap()[&JobStatus::Completed], 1);
}

/// R6: a removed job is gone everywhere (get, status, errors — its records with it), while the
/// records of a job that stays are kept.
pub async fn r6_removed_jobs_and_their_errors_are_gone(store: TestStore) {
    let h = Harness::new(store);
    let failed = h.p.add_job("fatal", None).await.unwrap();
    for _ in 0..3 {
        assert!(h.p.process_next_job().await.unwrap());
        h.advance(Duration::from_secs(10));
    }
    assert_eq!(h.p.job_errors(&failed).await.unwrap().len(), 3);
    let retrying = h.p.add_job("fatal", None).await.unwrap();
    assert!(h.p.process_next_job().await.unwrap());
    let kept = h.p.job_errors(&retrying).await.unwrap();
    assert_eq!(kept.len(), 1);
    h.p.remove_jobs(&[]).await.unwrap();
    assert!(matches!(
        h.p.job_errors(&failed).await,
        Err(Error::JobNotFound(x)) if x == failed
    ));
    assert!(matches!(
        h.p.get_job(&failed).await,
        Err(Error::JobNotFound(_))
    ));
    assert!(matches!(
        h.p.job_status(&failed).await,
        Err(Error::JobNotFound(_))
    ));
    assert_eq!(h.jobs.job_errors(&failed).await.unwrap(), None);
    assert_eq!(h.jobs.get_job(&failed).await.unwrap(), None);
    assert_eq!(h.p.job_errors(&retrying).await.unwrap(), kept);
}

/// R6: queued (also waiting for a retry) and processing jobs survive a removal unchanged, and
/// the processing one still completes afterwards.
pub async fn r6_live_jobs_are_untouched(store: TestStore) {
    let h = Harness::new(store);
    let ids = one_of_each(&h).await;
    let (queued, processing) = (&ids[0], &ids[1]);
    let plain = h.p.add_job("echo", json!("plain")).await.unwrap();
    let before = [
        h.p.get_job(queued).await.unwrap(),
        h.p.get_job(processing).await.unwrap(),
        h.p.get_job(&plain).await.unwrap(),
    ];
    let removed = h.p.remove_jobs(&JobStatus::REMOVABLE).await.unwrap();
    assert_eq!(removed.values().sum::<u64>(), 3);
    let after = [
        h.p.get_job(queued).await.unwrap(),
        h.p.get_job(processing).await.unwrap(),
        h.p.get_job(&plain).await.unwrap(),
    ];
    assert_eq!(after, before);
    assert_eq!(h.p.job_errors(queued).await.unwrap().len(), 1);
    assert_eq!(
        h.p.process_job(processing).await.unwrap(),
        JobStatus::Completed
    );
    assert_eq!(
        h.p.job_result(processing).await.unwrap(),
        Some(json!("running"))
    );
    assert_eq!(h.p.pull_next_job().await.unwrap().unwrap().id, plain);
}

/// R6: `remove_jobs_in_batches` with a job name removes the ended jobs of that name only,
/// counts every status asked (0 where none), and refuses a live status removing nothing.
pub async fn r6_removal_in_batches_keeps_to_the_name_asked(store: TestStore) {
    let h = Harness::new(store);
    let ids = one_of_each(&h).await;
    assert!(matches!(
        h.p.remove_jobs_in_batches(&[JobStatus::Queued], None, None)
            .await,
        Err(Error::InvalidRemoveStatus(JobStatus::Queued))
    ));
    assert_eq!(all_jobs(&h).await.len(), 5);
    let removed =
        h.p.remove_jobs_in_batches(&[], Some("echo"), None)
            .await
            .unwrap();
    assert_eq!(
        removed,
        counts(&[
            (JobStatus::Completed, 1),
            (JobStatus::Cancelled, 1),
            (JobStatus::Error, 0),
        ])
    );
    let left: Vec<JobId> = all_jobs(&h).await.into_iter().map(|j| j.id).collect();
    let (queued, processing, error) = (&ids[0], &ids[1], &ids[4]);
    assert_eq!(left.len(), 3);
    for id in [queued, processing, error] {
        assert!(left.contains(id), "{id} is of another name or live: kept");
    }
}
