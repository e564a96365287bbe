//! R10–R13 and the worker side of R8: the processor lifecycle, the simple and multi job
//! workers, blocking handlers and manual processing.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use remote_core::{
    blocking_fn, handler_fn, Error, JobContext, JobError, JobFactory, JobId, JobQuery, JobStatus,
    Processor, SchedulerItem, WorkerConfig,
};
use serde_json::{json, Value};

use crate::support::{flaky_job, gauged_sleep, unique_name, watch_logs, Gauge, Harness, TestStore};

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_workers {
    ($make:expr) => {
        $crate::__area!($make; workers {
            r10_is_processing_and_is_scheduling_follow_start_and_stop,
            r10_start_processor_twice_is_a_no_op_that_logs_already_running,
            r10_start_scheduler_twice_is_a_no_op_that_logs_already_running,
            r10_stop_when_not_running_is_harmless,
            r10_stop_waits_for_a_running_job_to_complete,
            r10_stopped_worker_pulls_nothing_more,
            r10_after_the_grace_period_a_running_handler_is_signalled_and_left_to_lease_recovery,
            r10_processor_restarts_after_stop,
            r10_scheduler_only_and_worker_only_processors_share_one_store,
            r11_idle_worker_is_woken_by_add_job_before_wait_time,
            r11_idle_worker_looks_again_after_wait_time,
            r11_simple_worker_runs_one_job_at_a_time_in_pull_order,
            r11_simple_worker_runs_a_retried_job_again_before_later_jobs,
            r12_idle_multi_worker_is_woken_by_add_job_before_wait_time,
            r12_multi_worker_runs_up_to_its_concurrency_and_never_more,
            r12_multi_worker_jobs_of_different_length_finish_out_of_order,
            r12_blocking_handler_does_not_stall_async_handlers,
            r13_pull_next_job_claims_without_running,
            r13_process_job_runs_a_claimed_job_to_its_outcome,
            r13_process_next_job_is_false_when_nothing_is_due,
            r13_process_job_on_a_queued_job_is_not_claimed,
            r13_process_job_on_a_finished_job_is_not_claimed,
            r8_job_worker_recovers_expired_leases_by_itself,
        });
    };
}

/// Waits (real time, at most `within`) until `check` holds; panics naming `what` if not.
async fn eventually<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check().await {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {within:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A processor with a unique name, an `echo` factory and a simple worker polling every 20 ms.
fn echo_processor(h: &Harness, prefix: &str) -> Processor {
    let p = h.processor(&unique_name(prefix));
    p.register(echo_factory()).unwrap();
    p
}

fn echo_factory() -> JobFactory {
    JobFactory::new(
        "echo",
        handler_fn(|ctx: JobContext| async move { Ok::<_, JobError>(ctx.input) }),
    )
}

/// A factory counting how often its handler ran.
fn counting_factory(name: &str, runs: &Arc<AtomicUsize>) -> JobFactory {
    let runs = runs.clone();
    JobFactory::new(
        name,
        handler_fn(move |ctx: JobContext| {
            let runs = runs.clone();
            async move {
                runs.fetch_add(1, Ordering::SeqCst);
                Ok::<_, JobError>(ctx.input)
            }
        }),
    )
}

fn lines(log: &Arc<Mutex<Vec<String>>>) -> Vec<String> {
    log.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Adds `[seconds, n]` jobs one clock second apart so pull order is the order given.
async fn add_sleeps(h: &Harness, p: &Processor, name: &str, jobs: &[(f64, i64)]) -> Vec<JobId> {
    let mut ids = Vec::new();
    for (seconds, n) in jobs {
        ids.push(p.add_job(name, json!([seconds, n])).await.unwrap());
        h.advance(Duration::from_secs(1));
    }
    ids
}

/// R10: both flags start false and follow their own start and stop, independently.
pub async fn r10_is_processing_and_is_scheduling_follow_start_and_stop(store: TestStore) {
    let h = Harness::new(store);
    assert!(!h.p.is_processing());
    assert!(!h.p.is_scheduling());
    h.p.start_processor();
    assert!(h.p.is_processing());
    assert!(!h.p.is_scheduling());
    h.p.start_scheduler();
    assert!(h.p.is_processing());
    assert!(h.p.is_scheduling());
    h.p.stop_processor().await;
    assert!(!h.p.is_processing());
    assert!(h.p.is_scheduling());
    h.p.stop_scheduler().await;
    assert!(!h.p.is_processing());
    assert!(!h.p.is_scheduling());
}

/// R10: starting a running job worker logs "already running" and leaves one worker, so a
/// simple worker still runs one job at a time and each job once.
pub async fn r10_start_processor_twice_is_a_no_op_that_logs_already_running(store: TestStore) {
    let h = Harness::new(store);
    let p = h.processor(&unique_name("twice"));
    let gauge = Gauge::default();
    p.register(gauged_sleep("sleep", &h.log, &gauge)).unwrap();
    let logs = Arc::new(Mutex::new(Vec::new()));
    let worker = format!("{}-worker", p.name());
    let _watch = watch_logs(format!("'{worker}'"), tracing::Level::INFO, logs.clone());
    let ids = add_sleeps(&h, &p, "sleep", &[(0.2, 1), (0.2, 2), (0.2, 3)]).await;
    p.start_processor();
    p.start_processor();
    assert!(p.is_processing());
    h.wait_for_log("three jobs", |log| log.len() == 3).await;
    p.stop_processor().await;
    assert!(!p.is_processing());
    assert_eq!(h.log(), vec!["Job: 1", "Job: 2", "Job: 3"]);
    assert_eq!(gauge.max(), 1, "one simple worker runs one job at a time");
    for id in &ids {
        let job = p.get_job(id).await.unwrap();
        assert_eq!(job.status, JobStatus::Completed);
        assert_eq!(job.attempt, 1, "each job ran once");
    }
    let logs = lines(&logs);
    assert_eq!(
        logs.iter().filter(|l| l.ends_with("started")).count(),
        1,
        "{logs:?}"
    );
    assert_eq!(
        logs.iter()
            .filter(|l| l.contains("already running"))
            .count(),
        1,
        "{logs:?}"
    );
    assert_eq!(
        logs.last(),
        Some(&format!("Processor '{worker}' stopped")),
        "{logs:?}"
    );
}

/// R10: starting a running scheduler logs "already running" under `<name>-scheduler`; one
/// scheduler runs, and each occurrence adds one job.
pub async fn r10_start_scheduler_twice_is_a_no_op_that_logs_already_running(store: TestStore) {
    let h = Harness::new(store);
    let p = echo_processor(&h, "sched-twice");
    let logs = Arc::new(Mutex::new(Vec::new()));
    let scheduler = format!("{}-scheduler", p.name());
    let _watch = watch_logs(format!("'{scheduler}'"), tracing::Level::INFO, logs.clone());
    p.add_scheduler_item(SchedulerItem::delay("echo", 60).with_next_call_time(h.p.now()))
        .await
        .unwrap();
    p.start_scheduler();
    p.start_scheduler();
    assert!(p.is_scheduling());
    assert!(!p.is_processing());
    let count = || async { p.list_jobs(&JobQuery::default()).await.unwrap().len() };
    eventually("the first firing", Duration::from_secs(10), || async {
        count().await == 1
    })
    .await;
    h.advance(Duration::from_secs(60));
    eventually("the second firing", Duration::from_secs(10), || async {
        count().await == 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(count().await, 2, "one job per occurrence");
    p.stop_scheduler().await;
    assert!(!p.is_scheduling());
    let logs = lines(&logs);
    // "already running" is logged by the caller, "started" by the new task: either may be first.
    assert_eq!(
        logs.iter()
            .filter(|l| **l == format!("Processor '{scheduler}' started"))
            .count(),
        1,
        "{logs:?}"
    );
    assert_eq!(
        logs.iter()
            .filter(|l| l.contains("already running"))
            .count(),
        1,
        "{logs:?}"
    );
    assert_eq!(
        logs.last(),
        Some(&format!("Processor '{scheduler}' stopped")),
        "{logs:?}"
    );
}

/// R10: stopping a worker or scheduler that never ran (or twice) does nothing and a later
/// start still works.
pub async fn r10_stop_when_not_running_is_harmless(store: TestStore) {
    let h = Harness::new(store);
    h.p.stop_processor().await;
    h.p.stop_scheduler().await;
    assert!(!h.p.is_processing());
    assert!(!h.p.is_scheduling());
    let id = h.p.add_job("echo", json!(1)).await.unwrap();
    assert_eq!(
        h.status(&id).await,
        JobStatus::Queued,
        "stop touched nothing"
    );
    h.p.start_processor();
    h.wait_for_status(&id, JobStatus::Completed).await;
    h.p.stop_processor().await;
    h.p.stop_processor().await;
    h.p.stop_scheduler().await;
    assert!(!h.p.is_processing());
    assert_eq!(h.p.job_result(&id).await.unwrap(), Some(json!(1)));
}

/// R10: stop is graceful: a running job finishes and is completed when stop returns.
pub async fn r10_stop_waits_for_a_running_job_to_complete(store: TestStore) {
    let h = Harness::new(store);
    let id = h.p.add_job("sleep", json!([0.75, 1])).await.unwrap();
    let mut events = h.p.subscribe();
    h.p.start_processor();
    h.wait_for_start(&mut events, &id).await;
    assert!(h.log().is_empty(), "the job is still running");
    h.p.stop_processor().await;
    assert!(!h.p.is_processing());
    assert_eq!(h.log(), vec!["Job: 1"]);
    let job = h.p.get_job(&id).await.unwrap();
    assert_eq!(job.status, JobStatus::Completed);
    assert_eq!(job.output, Some(json!(1)));
    assert_eq!(job.lease_until, None);
}

/// R10: after stop returns, jobs added later stay queued.
pub async fn r10_stopped_worker_pulls_nothing_more(store: TestStore) {
    let h = Harness::new(store);
    let first = h.p.add_job("echo", json!(1)).await.unwrap();
    h.p.start_processor();
    h.wait_for_status(&first, JobStatus::Completed).await;
    h.p.stop_processor().await;
    let later = h.p.add_job("echo", json!(2)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let job = h.p.get_job(&later).await.unwrap();
    assert_eq!(job.status, JobStatus::Queued);
    assert_eq!(job.attempt, 0);
}

/// R10 + R8: past the grace period stop signals the running handler through its context and
/// returns without waiting for it; the job stays `processing` until lease recovery fails the
/// attempt, and the handler's late output is refused.
pub async fn r10_after_the_grace_period_a_running_handler_is_signalled_and_left_to_lease_recovery(
    store: TestStore,
) {
    let h = Harness::new(store);
    let p = Processor::builder_with(h.jobs.clone(), h.items.clone())
        .name(unique_name("grace"))
        .clock(h.clock.clone())
        .worker(WorkerConfig::simple().wait_time(Duration::from_millis(20)))
        .grace(Duration::from_millis(100))
        .build();
    let log = h.log.clone();
    p.register(JobFactory::new(
        "stubborn",
        handler_fn(move |ctx: JobContext| {
            let log = log.clone();
            async move {
                log.lock().unwrap().push("started".into());
                let signalled = tokio::time::timeout(Duration::from_secs(10), ctx.cancelled())
                    .await
                    .is_ok();
                log.lock().unwrap().push(if signalled {
                    "signalled".into()
                } else {
                    "never signalled".into()
                });
                // Ignores the signal a while longer, like a handler stuck in blocking I/O.
                tokio::time::sleep(Duration::from_millis(600)).await;
                log.lock().unwrap().push("ended".into());
                Ok::<_, JobError>(json!("late"))
            }
        }),
    ))
    .unwrap();
    let id = p.add_job("stubborn", None).await.unwrap();
    p.start_processor();
    h.wait_for_log("the handler to start", |l| l.contains(&"started".into()))
        .await;
    p.stop_processor().await;
    assert!(!p.is_processing());
    assert!(
        !h.log().contains(&"ended".to_string()),
        "stop waited for the handler past its grace: {:?}",
        h.log()
    );
    h.wait_for_log("the handler to be signalled", |l| l.len() >= 2)
        .await;
    assert_eq!(h.log()[1], "signalled");
    assert_eq!(
        h.status(&id).await,
        JobStatus::Processing,
        "left to recovery"
    );
    h.advance(Duration::from_secs(31));
    let other = h.processor(&unique_name("recoverer"));
    assert_eq!(other.recover_expired_jobs().await.unwrap(), 1);
    let job = h.p.get_job(&id).await.unwrap();
    assert_eq!(job.status, JobStatus::Queued, "attempt 1 of 3 failed");
    let errors = h.p.job_errors(&id).await.unwrap();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].message.contains("lost"),
        "{:?}",
        errors[0].message
    );
    h.wait_for_log("the handler to end", |l| l.contains(&"ended".into()))
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let job = h.p.get_job(&id).await.unwrap();
    assert_eq!(job.status, JobStatus::Queued, "the late output was refused");
    assert_eq!(job.output, None);
    assert_eq!(h.p.job_errors(&id).await.unwrap().len(), 1);
}

/// R10: a stopped processor can be started again and processes jobs again.
pub async fn r10_processor_restarts_after_stop(store: TestStore) {
    let h = Harness::new(store);
    h.p.start_processor();
    h.p.stop_processor().await;
    assert!(!h.p.is_processing());
    let id = h.p.add_job("echo", json!("again")).await.unwrap();
    h.p.start_processor();
    assert!(h.p.is_processing());
    h.wait_for_status(&id, JobStatus::Completed).await;
    h.p.stop_processor().await;
    assert_eq!(h.p.job_result(&id).await.unwrap(), Some(json!("again")));
}

/// R10/design: one processor runs only the scheduler, another only the job worker; the
/// scheduler's jobs are completed by the worker through the shared store.
pub async fn r10_scheduler_only_and_worker_only_processors_share_one_store(store: TestStore) {
    let h = Harness::new(store);
    let scheduler = echo_processor(&h, "only-scheduler");
    let worker = echo_processor(&h, "only-worker");
    scheduler
        .add_scheduler_item(
            SchedulerItem::delay("echo", 60)
                .with_input(json!({"from": "schedule"}))
                .with_next_call_time(h.p.now()),
        )
        .await
        .unwrap();
    scheduler.start_scheduler();
    worker.start_processor();
    assert!(!scheduler.is_processing());
    assert!(!worker.is_scheduling());
    let completed = || async {
        h.p.list_jobs(&JobQuery {
            statuses: vec![JobStatus::Completed],
            ..Default::default()
        })
        .await
        .unwrap()
    };
    eventually(
        "the first scheduled job",
        Duration::from_secs(10),
        || async { completed().await.len() == 1 },
    )
    .await;
    h.advance(Duration::from_secs(60));
    eventually(
        "the second scheduled job",
        Duration::from_secs(10),
        || async { completed().await.len() == 2 },
    )
    .await;
    scheduler.stop_scheduler().await;
    worker.stop_processor().await;
    for job in completed().await {
        assert_eq!(job.output, Some(json!({"from": "schedule"})));
    }
    assert_eq!(h.p.list_jobs(&JobQuery::default()).await.unwrap().len(), 2);
}

/// R11: an idle worker with a 30 s wait time runs a job added in the same process at once.
pub async fn r11_idle_worker_is_woken_by_add_job_before_wait_time(store: TestStore) {
    let h = Harness::new(store);
    h.p.set_worker(WorkerConfig::simple().wait_time(Duration::from_secs(30)));
    h.p.start_processor();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let id = h.p.add_job("echo", json!(1)).await.unwrap();
    let p = &h.p;
    eventually("the woken worker", Duration::from_secs(5), || async {
        p.job_status(&id).await.unwrap() == JobStatus::Completed
    })
    .await;
    h.p.stop_processor().await;
}

/// R11: an idle worker looks for due jobs again after `wait_time` even when nobody wakes it
/// (here: a job becomes due because time passed).
pub async fn r11_idle_worker_looks_again_after_wait_time(store: TestStore) {
    let h = Harness::new(store);
    h.p.set_worker(WorkerConfig::simple().wait_time(Duration::from_millis(100)));
    let later = h.p.now() + chrono::TimeDelta::seconds(60);
    let id = h.p.add_job_at("echo", json!(1), later).await.unwrap();
    h.p.start_processor();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(h.status(&id).await, JobStatus::Queued, "not due yet");
    h.advance(Duration::from_secs(60));
    let p = &h.p;
    eventually(
        "the next look after wait_time",
        Duration::from_secs(5),
        || async { p.job_status(&id).await.unwrap() == JobStatus::Completed },
    )
    .await;
    h.p.stop_processor().await;
}

/// R11: the simple worker runs one job at a time, strictly in pull order, even when later
/// jobs are shorter.
pub async fn r11_simple_worker_runs_one_job_at_a_time_in_pull_order(store: TestStore) {
    let h = Harness::new(store);
    let p = h.processor(&unique_name("simple"));
    let gauge = Gauge::default();
    p.register(gauged_sleep("sleep", &h.log, &gauge)).unwrap();
    let jobs = [(0.25, 1), (0.15, 2), (0.05, 3), (0.0, 4), (0.1, 5)];
    add_sleeps(&h, &p, "sleep", &jobs).await;
    p.start_processor();
    h.wait_for_log("five jobs", |l| l.len() == 5).await;
    p.stop_processor().await;
    assert_eq!(
        h.log(),
        vec!["Job: 1", "Job: 2", "Job: 3", "Job: 4", "Job: 5"]
    );
    assert_eq!(gauge.max(), 1);
}

/// R11, R3: a failure is stored before the simple worker pulls again, so a job retried without
/// delay runs again before the jobs added after it. (A worker frees its slot before a
/// *completion* is stored; a failure keeps the slot until it is stored.)
pub async fn r11_simple_worker_runs_a_retried_job_again_before_later_jobs(store: TestStore) {
    let h = Harness::new(store);
    let p = h.processor(&unique_name("simple-retry"));
    p.register(flaky_job(&h.log)).unwrap();
    for n in 1..=3 {
        p.add_job("flaky", json!({ "n": n })).await.unwrap();
    }
    p.start_processor();
    h.wait_for_log("four attempts", |l| l.len() == 4).await;
    p.stop_processor().await;
    assert_eq!(h.log(), vec!["1.1", "1.2", "2.1", "3.1"]);
}

/// R12: an idle multi worker with a 30 s wait time runs a job added in the same process at once.
pub async fn r12_idle_multi_worker_is_woken_by_add_job_before_wait_time(store: TestStore) {
    let h = Harness::new(store);
    h.p.set_worker(WorkerConfig::multi(3).wait_time(Duration::from_secs(30)));
    h.p.start_processor();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let id = h.p.add_job("echo", json!(1)).await.unwrap();
    let p = &h.p;
    eventually("the woken multi worker", Duration::from_secs(5), || async {
        p.job_status(&id).await.unwrap() == JobStatus::Completed
    })
    .await;
    h.p.stop_processor().await;
}

/// R12: a multi worker with 3 slots runs 3 jobs at once and never more.
pub async fn r12_multi_worker_runs_up_to_its_concurrency_and_never_more(store: TestStore) {
    let h = Harness::new(store);
    let p = h.processor(&unique_name("multi"));
    let gauge = Gauge::default();
    p.register(gauged_sleep("sleep", &h.log, &gauge)).unwrap();
    p.set_worker(WorkerConfig::multi(3).wait_time(Duration::from_millis(20)));
    let jobs: Vec<(f64, i64)> = (1..=9).map(|n| (0.25, n)).collect();
    let ids = add_sleeps(&h, &p, "sleep", &jobs).await;
    p.start_processor();
    h.wait_for_log("nine jobs", |l| l.len() == 9).await;
    p.stop_processor().await;
    assert!(gauge.max() <= 3, "{} jobs ran at once", gauge.max());
    assert_eq!(gauge.max(), 3, "the slots were used");
    for id in &ids {
        let job = p.get_job(id).await.unwrap();
        assert_eq!(job.status, JobStatus::Completed);
        assert_eq!(job.attempt, 1);
    }
}

/// R12: jobs of different length run together and finish out of order.
pub async fn r12_multi_worker_jobs_of_different_length_finish_out_of_order(store: TestStore) {
    let h = Harness::new(store);
    h.p.set_worker(WorkerConfig::multi(3).wait_time(Duration::from_millis(20)));
    let p = h.p.clone();
    add_sleeps(&h, &p, "sleep", &[(1.0, 1), (0.5, 2), (0.0, 3)]).await;
    h.p.start_processor();
    h.wait_for_log("three jobs", |l| l.len() == 3).await;
    h.p.stop_processor().await;
    assert_eq!(h.log(), vec!["Job: 3", "Job: 2", "Job: 1"]);
}

/// R12: CPU-heavy `blocking_fn` handlers run off the async threads: four of them spinning
/// at once do not hold up a short async handler running beside them.
pub async fn r12_blocking_handler_does_not_stall_async_handlers(store: TestStore) {
    let h = Harness::new(store);
    let p = h.processor(&unique_name("blocking"));
    let spin_log = h.log.clone();
    p.register(JobFactory::new(
        "spin",
        blocking_fn(move |_ctx: JobContext| {
            let start = std::time::Instant::now();
            while start.elapsed() < Duration::from_millis(400) {
                std::hint::spin_loop();
            }
            spin_log.lock().unwrap().push("spin".into());
            Ok::<_, JobError>(Value::Null)
        }),
    ))
    .unwrap();
    let tick_log = h.log.clone();
    p.register(JobFactory::new(
        "tick",
        handler_fn(move |_ctx: JobContext| {
            let log = tick_log.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(10)).await;
                log.lock().unwrap().push("tick".into());
                Ok::<_, JobError>(Value::Null)
            }
        }),
    ))
    .unwrap();
    p.set_worker(WorkerConfig::multi(6).wait_time(Duration::from_millis(20)));
    for _ in 0..4 {
        p.add_job("spin", None).await.unwrap();
        h.advance(Duration::from_secs(1));
    }
    let tick = p.add_job("tick", None).await.unwrap();
    p.start_processor();
    h.wait_for_log("all five jobs", |l| l.len() == 5).await;
    p.stop_processor().await;
    assert_eq!(
        h.log().first().map(String::as_str),
        Some("tick"),
        "the async handler waited for blocking ones: {:?}",
        h.log()
    );
    assert_eq!(p.job_status(&tick).await.unwrap(), JobStatus::Completed);
}

/// R13: `pull_next_job` claims (processing, attempt 1) without running the handler, with no
/// worker running.
pub async fn r13_pull_next_job_claims_without_running(store: TestStore) {
    let h = Harness::new(store);
    let runs = Arc::new(AtomicUsize::new(0));
    h.p.register(counting_factory("count", &runs)).unwrap();
    let id = h.p.add_job("count", json!(7)).await.unwrap();
    let job = h.p.pull_next_job().await.unwrap().expect("due");
    assert!(!h.p.is_processing());
    assert_eq!(job.id, id);
    assert_eq!(job.status, JobStatus::Processing);
    assert_eq!(job.attempt, 1);
    assert_eq!(job.picked_at, Some(h.p.now()));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(runs.load(Ordering::SeqCst), 0, "pulling does not run it");
    assert_eq!(h.status(&id).await, JobStatus::Processing);
    assert!(h.p.pull_next_job().await.unwrap().is_none(), "claimed once");
}

/// R13: `process_job` runs a claimed job once and returns its status afterwards (completed,
/// queued for a retry, or error).
pub async fn r13_process_job_runs_a_claimed_job_to_its_outcome(store: TestStore) {
    let h = Harness::new(store);
    let runs = Arc::new(AtomicUsize::new(0));
    h.p.register(counting_factory("count", &runs)).unwrap();
    let id = h.p.add_job("count", json!({"k": 1})).await.unwrap();
    h.p.pull_next_job().await.unwrap().expect("due");
    assert_eq!(h.p.process_job(&id).await.unwrap(), JobStatus::Completed);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(h.p.job_result(&id).await.unwrap(), Some(json!({"k": 1})));

    h.advance(Duration::from_secs(1));
    let fatal = h.p.add_job("fatal", None).await.unwrap();
    h.p.pull_next_job().await.unwrap().expect("due");
    assert_eq!(h.p.process_job(&fatal).await.unwrap(), JobStatus::Queued);
    assert_eq!(h.status(&fatal).await, JobStatus::Queued);

    let error = h.p.add_job("error", None).await.unwrap();
    let pulled = h.p.pull_next_job().await.unwrap().expect("due");
    assert_eq!(pulled.id, error);
    assert_eq!(h.p.process_job(&error).await.unwrap(), JobStatus::Error);
    assert_eq!(h.status(&error).await, JobStatus::Error);
    assert!(!h.p.is_processing());
}

/// R13: `process_next_job` is false when nothing is due (empty queue, not yet due, cancelled)
/// and true once a job is.
pub async fn r13_process_next_job_is_false_when_nothing_is_due(store: TestStore) {
    let h = Harness::new(store);
    assert!(!h.p.process_next_job().await.unwrap());
    let later = h.p.now() + chrono::TimeDelta::seconds(30);
    let id = h.p.add_job_at("echo", json!(1), later).await.unwrap();
    let cancelled = h.p.add_job("echo", json!(2)).await.unwrap();
    h.p.cancel_job(&cancelled).await.unwrap();
    assert!(!h.p.process_next_job().await.unwrap());
    h.advance(Duration::from_secs(30));
    assert!(h.p.process_next_job().await.unwrap());
    assert_eq!(h.status(&id).await, JobStatus::Completed);
    assert!(!h.p.process_next_job().await.unwrap());
    assert_eq!(h.status(&cancelled).await, JobStatus::Cancelled);
}

/// R13: `process_job` on a queued (unclaimed) job is `Error::NotClaimed` and changes nothing.
pub async fn r13_process_job_on_a_queued_job_is_not_claimed(store: TestStore) {
    let h = Harness::new(store);
    let runs = Arc::new(AtomicUsize::new(0));
    h.p.register(counting_factory("count", &runs)).unwrap();
    let id = h.p.add_job("count", json!(1)).await.unwrap();
    match h.p.process_job(&id).await {
        Err(Error::NotClaimed { id: got, status }) => {
            assert_eq!(got, id);
            assert_eq!(status, JobStatus::Queued);
        }
        other => panic!("expected NotClaimed, got {other:?}"),
    }
    assert_eq!(runs.load(Ordering::SeqCst), 0);
    let job = h.p.get_job(&id).await.unwrap();
    assert_eq!(job.status, JobStatus::Queued);
    assert_eq!(job.attempt, 0);
    assert!(h.p.job_errors(&id).await.unwrap().is_empty());
    assert!(h.p.process_next_job().await.unwrap(), "still pullable");
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

/// R13: `process_job` on a completed or cancelled job is `Error::NotClaimed` and never runs
/// the handler again.
pub async fn r13_process_job_on_a_finished_job_is_not_claimed(store: TestStore) {
    let h = Harness::new(store);
    let runs = Arc::new(AtomicUsize::new(0));
    h.p.register(counting_factory("count", &runs)).unwrap();
    let done = h.p.add_job("count", json!(1)).await.unwrap();
    assert!(h.p.process_next_job().await.unwrap());
    let cancelled = h.p.add_job("count", json!(2)).await.unwrap();
    h.p.cancel_job(&cancelled).await.unwrap();
    for (id, status) in [
        (&done, JobStatus::Completed),
        (&cancelled, JobStatus::Cancelled),
    ] {
        match h.p.process_job(id).await {
            Err(Error::NotClaimed { status: got, .. }) => assert_eq!(got, status),
            other => panic!("expected NotClaimed, got {other:?}"),
        }
        assert_eq!(h.status(id).await, status);
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

/// R8 via the worker: a running job worker recovers an expired lease by itself (every
/// `recover_interval`), never a live one, and later runs the retried job.
pub async fn r8_job_worker_recovers_expired_leases_by_itself(store: TestStore) {
    let h = Harness::new(store);
    let id = h.p.add_job("echo", json!("orphan")).await.unwrap();
    // A worker that claims and then dies.
    h.p.pull_next_job().await.unwrap().expect("claimed");
    let p = Processor::builder_with(h.jobs.clone(), h.items.clone())
        .name(unique_name("recovering"))
        .clock(h.clock.clone())
        .worker(WorkerConfig::simple().wait_time(Duration::from_millis(20)))
        .recover_interval(Duration::from_millis(50))
        .build();
    p.register(echo_factory()).unwrap();
    p.start_processor();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        h.status(&id).await,
        JobStatus::Processing,
        "the lease is live"
    );
    assert!(h.p.job_errors(&id).await.unwrap().is_empty());
    h.advance(Duration::from_secs(31));
    eventually("recovery by the worker", Duration::from_secs(5), || async {
        h.status(&id).await == JobStatus::Queued
    })
    .await;
    let errors = h.p.job_errors(&id).await.unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].attempt, 1);
    assert!(
        errors[0].message.contains("lost"),
        "{:?}",
        errors[0].message
    );
    h.advance(Duration::from_secs(10));
    eventually("the retried attempt", Duration::from_secs(5), || async {
        h.status(&id).await == JobStatus::Completed
    })
    .await;
    p.stop_processor().await;
    let job = h.p.get_job(&id).await.unwrap();
    assert_eq!(job.attempt, 2);
    assert_eq!(job.output, Some(json!("orphan")));
}
