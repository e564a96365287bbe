//! R26–R31, R33, R35 through the processor: priorities, unique jobs, timeouts, snoozes,
//! retrying dead jobs, paused job names, pruning of finished jobs and trace contexts.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use remote_core::{
    handler_fn, Clock, InsertJobs, Job, JobContext, JobError, JobFactory, JobId, JobOptions,
    JobQuery, JobStatus, OnConflict, Processor, Retention, RetryOutcome, Unique, WorkerConfig,
};
use serde_json::{json, Value};

use crate::support::{flaky_job, unique_name, Harness, TestStore, PATIENCE};

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_features {
    ($make:expr) => {
        $crate::__area!($make; features {
            r26_a_worker_runs_higher_priorities_first,
            r27_adding_a_duplicate_returns_the_held_job_and_adds_nothing,
            r27_a_key_is_free_again_once_its_holder_finished,
            r28_an_attempt_past_its_timeout_is_told_to_stop_and_fails_as_timed_out,
            r28_a_handler_ignoring_its_timeout_is_dropped_after_the_grace,
            r29_a_snoozing_job_runs_again_later_without_using_up_attempts,
            r29_a_snooze_beyond_the_factorys_bound_fails_the_attempt,
            r30_retry_job_puts_a_dead_job_back_keeping_its_records,
            r30_retry_jobs_retries_by_status_and_name,
            r31_a_paused_name_is_not_claimed_until_resumed,
            r31_a_running_worker_honours_a_pause_within_its_wait_time,
            r33_pruning_removes_only_finished_jobs_older_than_their_retention,
            r33_a_factorys_retention_overrides_the_processors,
            r33_a_worker_prunes_as_the_one_leader_and_notes_the_run,
            r33_two_processes_pruning_at_once_remove_each_job_once,
            r35_a_job_keeps_its_trace_context_through_its_attempts,
            r35_a_malformed_trace_context_is_refused_and_adds_nothing,
        });
    };
}

/// Waits (real time, bounded) until `check` holds.
async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A factory that logs `ctx.input["n"]` and completes.
fn logging(name: &str, log: &Arc<Mutex<Vec<String>>>) -> JobFactory {
    let log = log.clone();
    JobFactory::new(
        name,
        handler_fn(move |ctx: JobContext| {
            let log = log.clone();
            async move {
                log.lock()
                    .unwrap()
                    .push(ctx.input["n"].as_i64().unwrap_or(-1).to_string());
                Ok::<_, JobError>(Value::Null)
            }
        }),
    )
}

fn hours(n: u64) -> Duration {
    Duration::from_secs(n * 3600)
}

/// R26: a simple worker runs the jobs of a higher priority first — the factory's default, or
/// the job's own — and jobs of one priority in the order they were added.
pub async fn r26_a_worker_runs_higher_priorities_first(store: TestStore) {
    let h = Harness::new(store);
    let p = h.processor(&unique_name("priorities"));
    p.register(logging("low", &h.log)).unwrap();
    p.register(logging("high", &h.log).priority(5)).unwrap();
    p.add_job("low", json!({"n": 1})).await.unwrap();
    p.add_job("high", json!({"n": 2})).await.unwrap();
    p.add_job_with("low", json!({"n": 3}), JobOptions::new().priority(9))
        .await
        .unwrap();
    p.add_job("high", json!({"n": 4})).await.unwrap();
    p.add_job_with("high", json!({"n": 5}), JobOptions::new().priority(-1))
        .await
        .unwrap();
    p.start_processor();
    h.wait_for_log("five jobs", |l| l.len() == 5).await;
    p.stop_processor().await;
    assert_eq!(h.log(), ["3", "2", "4", "1", "5"]);
}

/// R27: adding a job whose unique key a queued or running job holds returns that job's id and
/// adds nothing; other keys are added; `add_jobs` answers each duplicate with its holder.
pub async fn r27_adding_a_duplicate_returns_the_held_job_and_adds_nothing(store: TestStore) {
    let h = Harness::new(store);
    h.p.register(logging("mail", &h.log).unique(Unique::fields(["user"])))
        .unwrap();
    let first =
        h.p.add_job("mail", json!({"user": 1, "n": 1}))
            .await
            .unwrap();
    let again =
        h.p.add_job("mail", json!({"user": 1, "n": 2}))
            .await
            .unwrap();
    assert_eq!(again, first);
    let other =
        h.p.add_job("mail", json!({"user": 2, "n": 3}))
            .await
            .unwrap();
    assert_ne!(other, first);
    let batch =
        h.p.add_jobs(
            "mail",
            vec![json!({"user": 1}), json!({"user": 3}), json!({"user": 3})],
        )
        .await
        .unwrap();
    assert_eq!(batch[0], first);
    assert_eq!(batch[1], batch[2]);
    assert_eq!(h.p.list_jobs(&JobQuery::default()).await.unwrap().len(), 3);
    let running = h.p.pull_next_job().await.unwrap().expect("a job");
    assert_eq!(running.id, first);
    assert_eq!(
        h.p.add_job("mail", json!({"user": 1})).await.unwrap(),
        first,
        "a running job holds its key"
    );
    let explicit =
        h.p.add_job_with(
            "mail",
            json!({"user": 1}),
            JobOptions::new().unique(Unique::key("k")),
        )
        .await
        .unwrap();
    assert_ne!(explicit, first, "a job's own key replaces its factory's");
}

/// R27: once its holder finished, a key is free and the next job with it is added.
pub async fn r27_a_key_is_free_again_once_its_holder_finished(store: TestStore) {
    let h = Harness::new(store);
    h.p.register(logging("sync", &h.log).unique(Unique::input()))
        .unwrap();
    let first = h.p.add_job("sync", json!({"n": 1})).await.unwrap();
    assert!(h.p.process_next_job().await.unwrap());
    assert_eq!(h.p.job_status(&first).await.unwrap(), JobStatus::Completed);
    let second = h.p.add_job("sync", json!({"n": 1})).await.unwrap();
    assert_ne!(second, first);
    assert_eq!(h.p.job_status(&second).await.unwrap(), JobStatus::Queued);
}

/// A factory whose handler waits to be told to stop; `told` counts the handlers told.
fn waits_for_cancel(name: &str, told: &Arc<AtomicU32>) -> JobFactory {
    let told = told.clone();
    JobFactory::new(
        name,
        handler_fn(move |ctx: JobContext| {
            let told = told.clone();
            async move {
                ctx.cancelled().await;
                told.fetch_add(1, Ordering::SeqCst);
                Ok::<_, JobError>(json!("stopped"))
            }
        }),
    )
}

/// R28: an attempt that runs past its factory's timeout is told to stop and fails as a
/// retryable failure whose record says it timed out; a job's own timeout replaces the
/// factory's.
pub async fn r28_an_attempt_past_its_timeout_is_told_to_stop_and_fails_as_timed_out(
    store: TestStore,
) {
    let h = Harness::new(store);
    let told = Arc::new(AtomicU32::new(0));
    h.p.register(waits_for_cancel("slow", &told).timeout(Duration::from_millis(100)))
        .unwrap();
    let id = h.p.add_job("slow", None).await.unwrap();
    assert!(h.p.process_next_job().await.unwrap());
    assert_eq!(told.load(Ordering::SeqCst), 1);
    let job = h.p.get_job(&id).await.unwrap();
    assert_eq!((job.status, job.attempt), (JobStatus::Queued, 1));
    let errors = h.p.job_errors(&id).await.unwrap();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].message.contains("timed out"), "{:?}", errors[0]);

    let own =
        h.p.add_job_with(
            "slow",
            None,
            JobOptions::new().timeout(Duration::from_millis(50)),
        )
        .await
        .unwrap();
    assert_eq!(
        h.p.get_job(&own).await.unwrap().timeout,
        Some(Duration::from_millis(50))
    );
}

/// R28: a handler that ignores being told is dropped after the processor's timeout grace,
/// and the attempt fails as timed out all the same.
pub async fn r28_a_handler_ignoring_its_timeout_is_dropped_after_the_grace(store: TestStore) {
    let h = Harness::new(store);
    let p = Processor::builder_with(h.jobs.clone(), h.items.clone())
        .name(unique_name("grace"))
        .clock(h.clock.clone())
        .timeout_grace(Duration::from_millis(100))
        .build();
    p.register(
        JobFactory::new(
            "stuck",
            handler_fn(|_ctx: JobContext| async move {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok::<_, JobError>(Value::Null)
            }),
        )
        .timeout(Duration::from_millis(100)),
    )
    .unwrap();
    let id = p.add_job("stuck", None).await.unwrap();
    let started = std::time::Instant::now();
    assert!(p.process_next_job().await.unwrap());
    assert!(started.elapsed() < Duration::from_secs(10));
    let errors = p.job_errors(&id).await.unwrap();
    assert!(errors[0].message.contains("timed out"), "{:?}", errors[0]);
}

/// R29: a handler answering "not now" puts its job back until the asked time, without using
/// up an attempt and without an error record; the job then runs once more.
pub async fn r29_a_snoozing_job_runs_again_later_without_using_up_attempts(store: TestStore) {
    let h = Harness::new(store);
    let runs = Arc::new(AtomicU32::new(0));
    let r = runs.clone();
    h.p.register(
        JobFactory::new(
            "later",
            handler_fn(move |_ctx: JobContext| {
                let runs = r.clone();
                async move {
                    if runs.fetch_add(1, Ordering::SeqCst) < 2 {
                        return Err(JobError::snooze(Duration::from_secs(30)));
                    }
                    Ok(json!("done"))
                }
            }),
        )
        .max_attempts(1),
    )
    .unwrap();
    let id = h.p.add_job("later", None).await.unwrap();
    assert!(h.p.process_next_job().await.unwrap());
    let job = h.p.get_job(&id).await.unwrap();
    assert_eq!(
        (job.status, job.attempt, job.snoozes),
        (JobStatus::Queued, 0, 1)
    );
    assert_eq!(
        job.not_before,
        Some(h.p.now() + chrono::TimeDelta::seconds(30))
    );
    assert!(
        !h.p.process_next_job().await.unwrap(),
        "not before its time"
    );
    h.advance(Duration::from_secs(30));
    assert!(h.p.process_next_job().await.unwrap());
    h.advance(Duration::from_secs(30));
    assert!(h.p.process_next_job().await.unwrap());
    let job = h.p.get_job(&id).await.unwrap();
    assert_eq!(
        (job.status, job.attempt, job.snoozes),
        (JobStatus::Completed, 1, 2)
    );
    assert!(h.p.job_errors(&id).await.unwrap().is_empty());
}

/// R29: a snooze beyond the factory's `max_snoozes` fails the attempt with a record saying so.
pub async fn r29_a_snooze_beyond_the_factorys_bound_fails_the_attempt(store: TestStore) {
    let h = Harness::new(store);
    h.p.register(
        JobFactory::new(
            "forever",
            handler_fn(|_ctx: JobContext| async move {
                Err::<Value, _>(JobError::snooze(Duration::ZERO))
            }),
        )
        .max_snoozes(2)
        .max_attempts(1),
    )
    .unwrap();
    let id = h.p.add_job("forever", None).await.unwrap();
    for _ in 0..3 {
        assert!(h.p.process_next_job().await.unwrap());
    }
    let job = h.p.get_job(&id).await.unwrap();
    assert_eq!((job.status, job.snoozes), (JobStatus::Error, 2));
    let errors = h.p.job_errors(&id).await.unwrap();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].message.contains("snoozed 2 times"),
        "{:?}",
        errors[0]
    );
}

/// R30: `retry_job` puts an `error` job back in the queue with a fresh attempt budget; it
/// runs again and keeps the records of its earlier failures; other statuses are unchanged.
pub async fn r30_retry_job_puts_a_dead_job_back_keeping_its_records(store: TestStore) {
    let h = Harness::new(store);
    let id = h.p.add_job("error", None).await.unwrap();
    assert!(h.p.process_next_job().await.unwrap());
    assert_eq!(h.p.job_status(&id).await.unwrap(), JobStatus::Error);
    assert_eq!(
        h.p.retry_job(&id).await.unwrap(),
        RetryOutcome::Retried {
            was: JobStatus::Error
        }
    );
    let job = h.p.get_job(&id).await.unwrap();
    assert_eq!((job.status, job.attempt), (JobStatus::Queued, 0));
    assert!(h.p.process_next_job().await.unwrap());
    assert_eq!(h.p.job_errors(&id).await.unwrap().len(), 2);
    let done = h.p.add_job("echo", json!(1)).await.unwrap();
    assert!(h.p.process_next_job().await.unwrap());
    assert_eq!(
        h.p.retry_job(&done).await.unwrap(),
        RetryOutcome::Unchanged(JobStatus::Completed)
    );
    assert!(matches!(
        h.p.retry_job(&JobId::new()).await,
        Err(remote_core::Error::JobNotFound(_))
    ));
}

/// R30: `retry_jobs` retries every job of the given statuses, narrowed to one name when
/// asked, and refuses statuses that cannot be retried.
pub async fn r30_retry_jobs_retries_by_status_and_name(store: TestStore) {
    let h = Harness::new(store);
    let errors = [
        h.p.add_job("error", None).await.unwrap(),
        h.p.add_job("error", None).await.unwrap(),
    ];
    while h.p.process_next_job().await.unwrap() {}
    let cancelled = h.p.add_job("echo", json!(1)).await.unwrap();
    h.p.cancel_job(&cancelled).await.unwrap();
    let counts =
        h.p.retry_jobs(&[JobStatus::Cancelled], Some("error"))
            .await
            .unwrap();
    assert_eq!(counts[&JobStatus::Cancelled], 0);
    let counts = h.p.retry_jobs(&[], None).await.unwrap();
    assert_eq!(
        (counts[&JobStatus::Error], counts[&JobStatus::Cancelled]),
        (2, 1)
    );
    for id in errors.iter().chain([&cancelled]) {
        assert_eq!(h.p.job_status(id).await.unwrap(), JobStatus::Queued);
    }
    assert!(h.p.retry_jobs(&[JobStatus::Completed], None).await.is_err());
}

/// R31: a paused name's jobs are not claimed, by this processor or another, while other names
/// are; once resumed they are.
pub async fn r31_a_paused_name_is_not_claimed_until_resumed(store: TestStore) {
    let h = Harness::new(store);
    let paused = h.p.add_job("echo", json!(1)).await.unwrap();
    let other = h.p.add_job("error", None).await.unwrap();
    h.p.pause_job_name("echo").await.unwrap();
    let listed = h.p.paused_job_names().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].name.as_str(), listed[0].since),
        ("echo", h.p.now())
    );
    let second = h.processor(&unique_name("second"));
    second
        .register(logging("echo", &h.log))
        .expect("a fresh processor");
    assert_eq!(
        h.p.pull_next_job().await.unwrap().map(|j| j.id),
        Some(other)
    );
    assert!(h.p.pull_next_job().await.unwrap().is_none());
    assert!(second.pull_next_job().await.unwrap().is_none());
    h.p.resume_job_name("echo").await.unwrap();
    assert!(h.p.paused_job_names().await.unwrap().is_empty());
    assert_eq!(
        second.pull_next_job().await.unwrap().map(|j| j.id),
        Some(paused)
    );
}

/// R31: a worker that is running stops claiming a name paused by another processor within
/// its wait time, and claims it again after a resume.
pub async fn r31_a_running_worker_honours_a_pause_within_its_wait_time(store: TestStore) {
    let h = Harness::new(store);
    let worker = h.processor(&unique_name("pausing"));
    worker.register(logging("echo", &h.log)).unwrap();
    worker.start_processor();
    h.p.pause_job_name("echo").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let id = h.p.add_job("echo", json!({"n": 1})).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(h.p.job_status(&id).await.unwrap(), JobStatus::Queued);
    h.p.resume_job_name("echo").await.unwrap();
    until("the resumed job runs", || async {
        h.p.job_status(&id).await.unwrap() == JobStatus::Completed
    })
    .await;
    worker.stop_processor().await;
    assert_eq!(h.log(), ["1"]);
}

/// A processor on `h`'s store and clock keeping finished jobs as `retention` says.
fn pruner(h: &Harness, retention: Retention) -> Processor {
    let p = Processor::builder_with(h.jobs.clone(), h.items.clone())
        .name(unique_name("pruner"))
        .clock(h.clock.clone())
        .retention(retention)
        .build();
    for factory in crate::support::reference_factories(&h.log) {
        p.register(factory).expect("fresh processor");
    }
    p
}

/// Adds and runs jobs of `name` one by one, moving the clock one minute after each; their ids.
async fn finish(h: &Harness, p: &Processor, name: &str, n: usize) -> Vec<JobId> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(p.add_job(name, json!(i)).await.unwrap());
        assert!(p.process_next_job().await.unwrap());
        h.advance(Duration::from_secs(60));
    }
    ids
}

/// R33: pruning removes completed, cancelled and error jobs that finished longer ago than
/// their status's retention — with their error records — and never queued or running jobs.
pub async fn r33_pruning_removes_only_finished_jobs_older_than_their_retention(store: TestStore) {
    let h = Harness::new(store);
    let p = pruner(
        &h,
        Retention::forever()
            .completed(Some(hours(1)))
            .error(Some(hours(2))),
    );
    let old_done = finish(&h, &p, "echo", 2).await;
    let old_errors = finish(&h, &p, "error", 1).await;
    let cancelled = p.add_job("echo", json!("c")).await.unwrap();
    p.cancel_job(&cancelled).await.unwrap();
    let running = p.add_job("echo", json!("r")).await.unwrap();
    assert_eq!(
        p.pull_next_job().await.unwrap().map(|j| j.id),
        Some(running.clone())
    );
    let queued = p
        .add_job_at("echo", json!("q"), p.now() + chrono::TimeDelta::days(30))
        .await
        .unwrap();
    h.advance(hours(1) + Duration::from_secs(30));
    let fresh = finish(&h, &p, "echo", 1).await;

    let removed = p.prune_finished_jobs().await.unwrap();
    assert_eq!(removed.get(&JobStatus::Completed), Some(&2));
    assert_eq!(removed.values().sum::<u64>(), 2, "{removed:?}");
    for id in &old_done {
        assert!(matches!(
            p.get_job(id).await,
            Err(remote_core::Error::JobNotFound(_))
        ));
        assert!(p.job_errors(id).await.is_err(), "records go with the job");
    }
    for id in old_errors
        .iter()
        .chain([&cancelled, &running, &queued])
        .chain(&fresh)
    {
        assert!(p.get_job(id).await.is_ok(), "{id} kept");
    }
    h.advance(hours(1));
    let removed = p.prune_finished_jobs().await.unwrap();
    assert_eq!(removed.get(&JobStatus::Error), Some(&1));
    assert_eq!(removed.get(&JobStatus::Completed), Some(&1));
    assert!(
        p.get_job(&cancelled).await.is_ok(),
        "cancelled kept forever"
    );
}

/// R33: a factory's own retention applies to its jobs, the processor's to the others.
pub async fn r33_a_factorys_retention_overrides_the_processors(store: TestStore) {
    let h = Harness::new(store);
    let p = pruner(&h, Retention::default());
    p.register(logging("audit", &h.log).retention(Retention::forever()))
        .unwrap();
    p.register(logging("ping", &h.log).retention(Retention::forever().completed(Some(hours(1)))))
        .unwrap();
    let audit = finish(&h, &p, "audit", 1).await;
    let ping = finish(&h, &p, "ping", 1).await;
    let echo = finish(&h, &p, "echo", 1).await;
    h.advance(hours(2));
    assert_eq!(
        p.prune_finished_jobs().await.unwrap()[&JobStatus::Completed],
        1
    );
    assert!(p.get_job(&ping[0]).await.is_err());
    assert!(p.get_job(&echo[0]).await.is_ok());
    h.advance(hours(23));
    assert_eq!(
        p.prune_finished_jobs().await.unwrap()[&JobStatus::Completed],
        1
    );
    assert!(p.get_job(&echo[0]).await.is_err());
    assert!(p.get_job(&audit[0]).await.is_ok(), "kept forever");
}

/// R33: job workers prune by themselves every `prune_interval`, one process at a time — the
/// holder of the prune lease — which notes when it ran and what it removed.
pub async fn r33_a_worker_prunes_as_the_one_leader_and_notes_the_run(store: TestStore) {
    let h = Harness::new(store);
    let worker = |name: &str| {
        let p = Processor::builder_with(h.jobs.clone(), h.items.clone())
            .name(unique_name(name))
            .clock(h.clock.clone())
            .retention(Retention::forever().completed(Some(hours(1))))
            .prune_interval(Duration::from_millis(50))
            .worker(WorkerConfig::simple().wait_time(Duration::from_millis(20)))
            .build();
        p.register(logging("echo", &h.log)).unwrap();
        p
    };
    let (a, b) = (worker("prune-a"), worker("prune-b"));
    let done = finish(&h, &a, "echo", 3).await;
    h.advance(hours(2));
    a.start_processor();
    b.start_processor();
    until("the old jobs are pruned", || async {
        a.list_jobs(&JobQuery::default()).await.unwrap().is_empty()
    })
    .await;
    let leaders = a.maintenance_leaders().await.unwrap();
    let prune: Vec<_> = leaders.iter().filter(|l| l.name == "prune").collect();
    assert_eq!(prune.len(), 1, "{leaders:?}");
    until("the run is noted", || async {
        let leaders = a.maintenance_leaders().await.unwrap();
        leaders
            .iter()
            .any(|l| l.name == "prune" && l.note["removed"]["completed"] == json!(done.len()))
    })
    .await;
    a.stop_processor().await;
    b.stop_processor().await;
}

/// R33: two processes pruning at the same moment remove every old job once; their counts add
/// up to the jobs there were (2,500 completed jobs, stored as such, so pruning runs several
/// batches in each process).
pub async fn r33_two_processes_pruning_at_once_remove_each_job_once(store: TestStore) {
    let h = Harness::new(store);
    let retention = Retention::forever().completed(Some(hours(1)));
    let (a, b) = (pruner(&h, retention), pruner(&h, retention));
    let now = h.clock.now();
    let done: Vec<Job> = (0..2_500)
        .map(|i| {
            let mut job = Job::queued("echo", json!(i), 3, Duration::from_secs(1), now);
            job.status = JobStatus::Completed;
            job.attempt = 1;
            job.output = Some(json!(i));
            job.picked_at = Some(now);
            job.completed_at = Some(now);
            job
        })
        .collect();
    for batch in done.chunks(500) {
        let stored = h
            .jobs
            .insert_jobs(&InsertJobs {
                jobs: batch,
                on_conflict: OnConflict::Refuse,
            })
            .await
            .unwrap();
        assert!(stored.iter().all(|s| s.is_stored()));
    }
    h.advance(hours(2));
    let (ra, rb) = tokio::join!(a.prune_finished_jobs(), b.prune_finished_jobs());
    let total = ra.unwrap()[&JobStatus::Completed] + rb.unwrap()[&JobStatus::Completed];
    assert_eq!(total, 2_500);
    assert_eq!(a.count_jobs().await.unwrap()[&JobStatus::Completed], 0);
}

/// A well-formed `traceparent` for the R35 cases.
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// R35: a job added with a trace context keeps it through a failed attempt and the retry that
/// completes it; a job added without one, outside any OpenTelemetry span, has none.
pub async fn r35_a_job_keeps_its_trace_context_through_its_attempts(store: TestStore) {
    let h = Harness::new(store);
    let log = Arc::new(Mutex::new(Vec::new()));
    h.p.register(flaky_job(&log)).unwrap();
    let traced =
        h.p.add_job_with(
            "flaky",
            json!({"n": 1}),
            JobOptions::new().trace_context(TRACEPARENT),
        )
        .await
        .unwrap();
    let plain = h.p.add_job("flaky", json!({"n": 2})).await.unwrap();
    assert_eq!(
        h.p.get_job(&traced).await.unwrap().trace_context.as_deref(),
        Some(TRACEPARENT)
    );
    while h.p.process_next_job().await.unwrap() {}
    h.advance(Duration::from_secs(3_600));
    while h.p.process_next_job().await.unwrap() {}
    let job = h.p.get_job(&traced).await.unwrap();
    assert_eq!((job.status, job.attempt), (JobStatus::Completed, 2));
    assert_eq!(job.trace_context.as_deref(), Some(TRACEPARENT));
    assert_eq!(h.p.get_job(&plain).await.unwrap().trace_context, None);
}

/// R35 and R22: a trace context that is not a W3C `traceparent` makes adding the job
/// `InvalidInput`, and nothing is stored.
pub async fn r35_a_malformed_trace_context_is_refused_and_adds_nothing(store: TestStore) {
    let h = Harness::new(store);
    let log = Arc::new(Mutex::new(Vec::new()));
    h.p.register(flaky_job(&log)).unwrap();
    for bad in [
        "",
        "traceparent",
        &TRACEPARENT.to_uppercase(),
        &format!("{TRACEPARENT}-"),
    ] {
        let added =
            h.p.add_job_with("flaky", None, JobOptions::new().trace_context(bad))
                .await;
        assert!(
            matches!(added, Err(remote_core::Error::InvalidInput(_))),
            "{bad:?}: {added:?}"
        );
    }
    assert!(h
        .p
        .list_jobs(&JobQuery::default())
        .await
        .unwrap()
        .is_empty());
}
