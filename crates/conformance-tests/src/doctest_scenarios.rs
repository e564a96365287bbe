//! The reference cases from m01.remote's doctests (`README.txt`, `worker.txt`; listed in
//! `docs/contract.md`) re-told against the store: the echo, error and fatal jobs,
//! `remove_jobs`, the processor's start/stop logs and the simple and multi workers' completion
//! orders.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use remote_core::{CancelOutcome, Job, JobId, JobQuery, JobStatus, Processor, WorkerConfig};
use serde_json::{json, Value};

use crate::support::{
    gauged_sleep, reference_factories, unique_name, watch_logs, Gauge, Harness, TestStore,
};

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_doctest_scenarios {
    ($make:expr) => {
        $crate::__area!($make; doctest_scenarios {
            r1_echo_job_is_queued_without_result_then_cancelled,
            r13_process_next_job_completes_the_echo_job,
            r3_error_job_ends_in_error_with_one_record,
            r3_fatal_job_is_attempted_three_times,
            r6_remove_jobs_counts_each_status_and_keeps_the_queued_job,
            r10_processor_start_and_stop_are_logged_with_the_worker_name,
            r10_processor_is_named_root_by_default,
            r11_simple_worker_completes_jobs_in_the_order_added,
            r12_multi_worker_two_slots_finishes_3_4_2,
            r12_multi_worker_four_slots_finishes_3_1_2_4,
            r12_multi_worker_two_slots_finishes_1_2_3_4,
        });
    };
}

/// The statuses of all jobs, sorted like the doctest's `sorted([job.status ...])`.
async fn statuses(h: &Harness) -> Vec<JobStatus> {
    let mut all: Vec<JobStatus> =
        h.p.list_jobs(&JobQuery::default())
            .await
            .expect("list jobs")
            .into_iter()
            .map(|j| j.status)
            .collect();
    all.sort_by_key(|s| s.as_str());
    all
}

/// The README story up to `remove_jobs`: cancelled echo, completed echo, `error` and `fatal`
/// (three attempts); returns their ids in that order.
async fn readme_story(h: &Harness) -> [JobId; 4] {
    let id1 = h.p.add_job("echo", json!({"foo": "bar"})).await.unwrap();
    h.p.cancel_job(&id1).await.unwrap();
    h.advance(Duration::from_secs(1));
    let id2 = h.p.add_job("echo", json!({"foo": "bar"})).await.unwrap();
    assert!(h.p.process_next_job().await.unwrap());
    h.advance(Duration::from_secs(1));
    let id3 = h.p.add_job("error", None).await.unwrap();
    assert!(h.p.process_next_job().await.unwrap());
    h.advance(Duration::from_secs(1));
    let id4 = h.p.add_job("fatal", None).await.unwrap();
    for _ in 0..3 {
        assert!(h.p.process_next_job().await.unwrap());
        h.advance(Duration::from_secs(11));
    }
    [id1, id2, id3, id4]
}

/// Adds `sleep`-style jobs (`[seconds, n]`) one clock second apart, so pull order is
/// the order given.
async fn add_sleep_jobs(h: &Harness, p: &Processor, name: &str, jobs: &[(f64, i64)]) -> Vec<JobId> {
    let mut ids = Vec::new();
    for (seconds, n) in jobs {
        ids.push(p.add_job(name, json!([seconds, n])).await.unwrap());
        h.advance(Duration::from_secs(1));
    }
    ids
}

/// A processor with a unique name on the harness's store and clock, with the reference
/// factories logging into `h.log`.
fn reference_processor(h: &Harness, prefix: &str) -> Processor {
    let p = h.processor(&unique_name(prefix));
    for factory in reference_factories(&h.log) {
        p.register(factory).unwrap();
    }
    p
}

/// README: the echo job is queued with no result, and can be cancelled while queued.
pub async fn r1_echo_job_is_queued_without_result_then_cancelled(store: TestStore) {
    let h = Harness::new(store);
    let id = h.p.add_job("echo", json!({"foo": "bar"})).await.unwrap();
    assert_eq!(statuses(&h).await, vec![JobStatus::Queued]);
    assert_eq!(h.status(&id).await, JobStatus::Queued);
    assert_eq!(h.p.job_result(&id).await.unwrap(), None);
    assert_eq!(
        h.p.cancel_job(&id).await.unwrap(),
        CancelOutcome::Cancelled {
            was: JobStatus::Queued
        }
    );
    assert_eq!(h.status(&id).await, JobStatus::Cancelled);
    assert_eq!(statuses(&h).await, vec![JobStatus::Cancelled]);
    assert!(
        !h.p.process_next_job().await.unwrap(),
        "cancelled is never pulled"
    );
}

/// README: the FakeWorker (`process_next_job`) completes the echo job; its result is the input.
pub async fn r13_process_next_job_completes_the_echo_job(store: TestStore) {
    let h = Harness::new(store);
    let id1 = h.p.add_job("echo", json!({"foo": "bar"})).await.unwrap();
    h.p.cancel_job(&id1).await.unwrap();
    h.advance(Duration::from_secs(1));
    let id2 = h.p.add_job("echo", json!({"foo": "bar"})).await.unwrap();
    assert_eq!(
        statuses(&h).await,
        vec![JobStatus::Cancelled, JobStatus::Queued]
    );
    assert!(!h.p.is_processing());
    assert!(h.p.process_next_job().await.unwrap());
    assert_eq!(
        statuses(&h).await,
        vec![JobStatus::Cancelled, JobStatus::Completed]
    );
    assert_eq!(h.status(&id2).await, JobStatus::Completed);
    assert_eq!(
        h.p.job_result(&id2).await.unwrap(),
        Some(json!({"foo": "bar"}))
    );
    assert_eq!(h.p.job_result(&id1).await.unwrap(), None);
}

/// README: the RemoteException job ends in `error` at once with one record saying
/// "An error occurred.".
pub async fn r3_error_job_ends_in_error_with_one_record(store: TestStore) {
    let h = Harness::new(store);
    let id = h.p.add_job("error", None).await.unwrap();
    h.advance(Duration::from_secs(2));
    assert!(h.p.process_next_job().await.unwrap());
    assert_eq!(h.status(&id).await, JobStatus::Error);
    let errors = h.p.job_errors(&id).await.unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].message.contains("An error occurred."),
        "{:?}",
        errors[0].message
    );
    assert_eq!(errors[0].attempt, 1);
    assert_eq!(errors[0].created, h.p.now());
    let job = h.p.get_job(&id).await.unwrap();
    assert_eq!(job.attempt, 1);
    assert_eq!(job.completed_at, Some(h.p.now()));
    assert_eq!(h.p.job_result(&id).await.unwrap(), None);
    assert!(
        !h.p.process_next_job().await.unwrap(),
        "an error job is done"
    );
}

/// README: the fatal job is tried three times: counters 1, 2, 3; statuses queued, queued,
/// error; 1, 2, 3 records. Time passes on the manual clock where the doctest edits `retryTime`.
pub async fn r3_fatal_job_is_attempted_three_times(store: TestStore) {
    let h = Harness::new(store);
    let id = h.p.add_job("fatal", None).await.unwrap();
    let expected = [
        (1, JobStatus::Queued),
        (2, JobStatus::Queued),
        (3, JobStatus::Error),
    ];
    for (attempt, status) in expected {
        assert!(
            h.p.process_next_job().await.unwrap(),
            "attempt {attempt} is due"
        );
        let job = h.p.get_job(&id).await.unwrap();
        assert_eq!(job.attempt, attempt);
        assert_eq!(job.status, status, "after attempt {attempt}");
        let errors = h.p.job_errors(&id).await.unwrap();
        assert_eq!(errors.len(), attempt as usize);
        assert_eq!(
            errors.iter().map(|e| e.attempt).collect::<Vec<_>>(),
            (1..=attempt).collect::<Vec<_>>()
        );
        if status == JobStatus::Queued {
            assert_eq!(
                job.not_before,
                Some(h.p.now() + chrono::TimeDelta::seconds(10))
            );
            assert!(
                !h.p.process_next_job().await.unwrap(),
                "not due before not_before"
            );
            h.advance(Duration::from_secs(10));
        }
    }
    assert_eq!(h.status(&id).await, JobStatus::Error);
    assert!(!h.p.process_next_job().await.unwrap());
    h.advance(Duration::from_secs(3600));
    assert!(!h.p.process_next_job().await.unwrap(), "no fourth attempt");
    assert_eq!(h.p.job_errors(&id).await.unwrap().len(), 3);
}

/// README: `remove_jobs()` returns `{cancelled: 1, completed: 1, error: 2}`, leaves the queued
/// job, which `pull_next_job` then claims; nothing else is due afterwards.
pub async fn r6_remove_jobs_counts_each_status_and_keeps_the_queued_job(store: TestStore) {
    let h = Harness::new(store);
    let [_, _, _, fatal] = readme_story(&h).await;
    assert_eq!(h.status(&fatal).await, JobStatus::Error);
    let id8 = h.p.add_job("echo", json!({"blah": "blah"})).await.unwrap();
    assert_eq!(
        statuses(&h).await,
        vec![
            JobStatus::Cancelled,
            JobStatus::Completed,
            JobStatus::Error,
            JobStatus::Error,
            JobStatus::Queued
        ]
    );
    let removed = h.p.remove_jobs(&[]).await.unwrap();
    let expected: remote_core::StatusCounts = [
        (JobStatus::Cancelled, 1),
        (JobStatus::Completed, 1),
        (JobStatus::Error, 2),
    ]
    .into_iter()
    .collect();
    assert_eq!(removed, expected);
    assert_eq!(statuses(&h).await, vec![JobStatus::Queued]);
    let pulled: Job = h.p.pull_next_job().await.unwrap().expect("the last job");
    assert_eq!(pulled.id, id8);
    assert_eq!(pulled.job_name, "echo");
    assert_eq!(pulled.input, json!({"blah": "blah"}));
    assert_eq!(pulled.status, JobStatus::Processing);
    assert!(h.p.pull_next_job().await.unwrap().is_none());
}

/// README: a processor is not processing until started; start and stop are logged as
/// `Processor '<name>-worker' started` and `… stopped`.
pub async fn r10_processor_start_and_stop_are_logged_with_the_worker_name(store: TestStore) {
    let h = Harness::new(store);
    let p = reference_processor(&h, "doctest-log");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let _watch = watch_logs(
        format!("'{}-worker'", p.name()),
        tracing::Level::INFO,
        lines.clone(),
    );
    assert!(!p.is_processing());
    assert!(!p.is_scheduling());
    p.start_processor();
    assert!(p.is_processing());
    assert!(!p.is_scheduling());
    p.stop_processor().await;
    assert!(!p.is_processing());
    let got = lines.lock().unwrap().clone();
    assert_eq!(
        got,
        vec![
            format!("Processor '{}-worker' started", p.name()),
            format!("Processor '{}-worker' stopped", p.name()),
        ]
    );
}

/// README: the processor's default name is `root`, so its worker is `root-worker`.
pub async fn r10_processor_is_named_root_by_default(store: TestStore) {
    let h = Harness::new(store);
    let p = Processor::builder_with(h.jobs.clone(), h.items.clone())
        .clock(h.clock.clone())
        .build();
    assert_eq!(p.name(), "root");
    assert_eq!(h.p.name(), "root");
    // The default processor runs over this store like any other.
    p.register(remote_core::JobFactory::new(
        "echo",
        remote_core::handler_fn(|ctx: remote_core::JobContext| async move {
            Ok::<Value, remote_core::JobError>(ctx.input)
        }),
    ))
    .unwrap();
    let id = p.add_job("echo", json!("x")).await.unwrap();
    assert!(p.process_next_job().await.unwrap());
    assert_eq!(p.job_result(&id).await.unwrap(), Some(json!("x")));
}

/// worker.txt SimpleJobWorker: job 1 processed by hand, then the started worker completes
/// 2, 3, 4 in the order they were added, between its start and stop log lines.
pub async fn r11_simple_worker_completes_jobs_in_the_order_added(store: TestStore) {
    let h = Harness::new(store);
    let p = reference_processor(&h, "doctest-simple");
    p.set_worker(WorkerConfig::simple().wait_time(Duration::ZERO));
    let ids = add_sleep_jobs(&h, &p, "sleep", &[(0.04, 1), (0.1, 2), (0.0, 3), (0.08, 4)]).await;
    for id in &ids {
        assert_eq!(p.job_status(id).await.unwrap(), JobStatus::Queued);
    }
    assert!(p.process_next_job().await.unwrap());
    assert_eq!(h.log(), vec!["Job: 1"]);
    let _watch = watch_logs(
        format!("'{}-worker'", p.name()),
        tracing::Level::INFO,
        h.log.clone(),
    );
    p.start_processor();
    h.wait_for_log("jobs 2, 3 and 4", |log| {
        log.iter().filter(|l| l.starts_with("Job: ")).count() == 4
    })
    .await;
    p.stop_processor().await;
    let worker = format!("{}-worker", p.name());
    assert_eq!(
        h.log(),
        vec![
            "Job: 1".to_string(),
            format!("Processor '{worker}' started"),
            "Job: 2".to_string(),
            "Job: 3".to_string(),
            "Job: 4".to_string(),
            format!("Processor '{worker}' stopped"),
        ]
    );
    for id in &ids {
        assert_eq!(p.job_status(id).await.unwrap(), JobStatus::Completed);
    }
}

/// Runs one multi-worker story of worker.txt: job 1 is pulled and processed by hand when
/// `by_hand`, then a multi worker with `slots` runs the rest; returns the "Job: n" lines of
/// the worker and the most jobs seen running at once.
async fn multi_story(
    h: &Harness,
    slots: usize,
    by_hand: bool,
    jobs: &[(f64, i64)],
    expected_after_hand: usize,
) -> (Vec<String>, usize) {
    let p = h.processor(&unique_name("doctest-multi"));
    let gauge = Gauge::default();
    p.register(gauged_sleep("sleep", &h.log, &gauge)).unwrap();
    let ids = add_sleep_jobs(h, &p, "sleep", jobs).await;
    if by_hand {
        let job = p.pull_next_job().await.unwrap().expect("job 1 is due");
        assert_eq!(job.id, ids[0]);
        assert_eq!(job.status, JobStatus::Processing);
        assert_eq!(p.process_job(&job.id).await.unwrap(), JobStatus::Completed);
        assert_eq!(h.log(), vec!["Job: 1"]);
        h.clear_log();
    }
    p.set_worker(WorkerConfig::multi(slots).wait_time(Duration::from_millis(50)));
    let _watch = watch_logs(
        format!("'{}-worker'", p.name()),
        tracing::Level::INFO,
        h.log.clone(),
    );
    p.start_processor();
    h.wait_for_log("every job", |log| {
        log.iter().filter(|l| l.starts_with("Job: ")).count() == expected_after_hand
    })
    .await;
    p.stop_processor().await;
    let log = h.log();
    let worker = format!("{}-worker", p.name());
    assert_eq!(
        log.first(),
        Some(&format!("Processor '{worker}' started")),
        "{log:?}"
    );
    assert_eq!(
        log.last(),
        Some(&format!("Processor '{worker}' stopped")),
        "{log:?}"
    );
    for id in &ids {
        assert_eq!(p.job_status(id).await.unwrap(), JobStatus::Completed);
    }
    let done = log.into_iter().filter(|l| l.starts_with("Job: ")).collect();
    (done, gauge.max())
}

/// worker.txt MultiJobWorker, 2 slots over (0.04,1) by hand then (1.0,2), (0,3), (0.2,4):
/// finish order 3, 4, 2; never more than 2 running.
pub async fn r12_multi_worker_two_slots_finishes_3_4_2(store: TestStore) {
    let h = Harness::new(store);
    let (done, max) = multi_story(&h, 2, true, &[(0.04, 1), (1.0, 2), (0.0, 3), (0.2, 4)], 3).await;
    assert_eq!(done, vec!["Job: 3", "Job: 4", "Job: 2"]);
    assert!(max <= 2, "{max} jobs ran at once with 2 slots");
    assert_eq!(max, 2, "jobs 2 and 3 run together");
}

/// worker.txt, 4 slots over (0.3,1), (0.4,2), (0.1,3), (0.5,4): all run at once, finish
/// order 3, 1, 2, 4.
pub async fn r12_multi_worker_four_slots_finishes_3_1_2_4(store: TestStore) {
    let h = Harness::new(store);
    let (done, max) = multi_story(&h, 4, false, &[(0.3, 1), (0.4, 2), (0.1, 3), (0.5, 4)], 4).await;
    assert_eq!(done, vec!["Job: 3", "Job: 1", "Job: 2", "Job: 4"]);
    assert_eq!(max, 4, "all four run at once");
}

/// worker.txt, 2 slots over (0.3,1), (0.4,2), (0.2,3), (0.5,4): job 3 waits for a slot, so
/// the order is 1, 2, 3, 4 and never more than 2 run at once.
pub async fn r12_multi_worker_two_slots_finishes_1_2_3_4(store: TestStore) {
    let h = Harness::new(store);
    let (done, max) = multi_story(&h, 2, false, &[(0.3, 1), (0.4, 2), (0.2, 3), (0.5, 4)], 4).await;
    assert_eq!(done, vec!["Job: 1", "Job: 2", "Job: 3", "Job: 4"]);
    assert!(max <= 2, "{max} jobs ran at once with 2 slots");
}
