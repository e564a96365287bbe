//! R2 atomic claims and R9 exactly one outcome per attempt, under concurrent workers.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use remote_core::{
    handler_fn, CancelOutcome, JobContext, JobError, JobFactory, JobId, JobQuery, JobStatus,
    Processor, WorkerConfig,
};
use serde_json::{json, Value};

use crate::support::{Harness, TestStore, PATIENCE};

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_concurrency {
    ($make:expr) => {
        $crate::__area!($make; concurrency {
            r2_concurrent_claimers_take_each_job_exactly_once,
            r9_concurrent_process_next_job_runs_each_handler_once,
            r9_concurrent_workers_drain_the_queue_running_each_job_once,
            r9_workers_on_two_handles_run_each_job_once,
            r12_multi_worker_never_runs_more_than_its_concurrency,
            r1_concurrent_add_job_loses_nothing,
            r4_concurrent_cancel_and_claim_agree,
            r9_process_job_twice_at_once_runs_the_attempt_once,
        });
    };
}

/// Runs per input number, shared by the handlers of many processors.
type Runs = Arc<Mutex<HashMap<i64, usize>>>;

/// An echo factory that counts how often it ran for each integer input.
fn counting_echo(runs: &Runs) -> JobFactory {
    let runs = runs.clone();
    JobFactory::new(
        "echo",
        handler_fn(move |ctx: JobContext| {
            let runs = runs.clone();
            async move {
                let n = ctx.input.as_i64().expect("integer input");
                *runs.lock().unwrap().entry(n).or_insert(0) += 1;
                tokio::task::yield_now().await;
                Ok::<_, JobError>(ctx.input)
            }
        }),
    )
}

/// Waits (real time, ≤ 20 s) until `n` jobs are completed.
async fn wait_completed(h: &Harness, n: u64) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let done = h.p.count_jobs().await.unwrap()[&JobStatus::Completed];
        if done >= n {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out: {done} of {n} jobs completed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn inputs(n: i64) -> Vec<Value> {
    (0..n).map(|i| json!(i)).collect()
}

/// Checks that every job ran once: `runs` has each input exactly once and each job completed
/// with its input as output.
async fn assert_each_ran_once(h: &Harness, runs: &Runs, n: i64) {
    let runs = runs.lock().unwrap().clone();
    assert_eq!(runs.len(), n as usize, "every job ran");
    let twice: Vec<_> = runs.iter().filter(|(_, c)| **c != 1).collect();
    assert!(twice.is_empty(), "jobs run more than once: {twice:?}");
    let jobs = h.p.list_jobs(&JobQuery::default()).await.unwrap();
    assert_eq!(jobs.len(), n as usize);
    for job in jobs {
        assert_eq!(job.status, JobStatus::Completed, "{job:?}");
        assert_eq!(job.attempt, 1, "{job:?}");
        assert_eq!(job.output.as_ref(), Some(&job.input));
    }
}

/// R2: eight processors pulling 500 jobs at once each take distinct jobs; every job is claimed
/// exactly once (one attempt each) and none is lost.
pub async fn r2_concurrent_claimers_take_each_job_exactly_once(store: TestStore) {
    let h = Harness::new(store);
    let ids = h.p.add_jobs("echo", inputs(500)).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let p = h.processor(&format!("claimer-{i}"));
        p.register(counting_echo(&Runs::default())).unwrap();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while let Some(job) = p.pull_next_job().await.unwrap() {
                mine.push(job.id);
            }
            mine
        }));
    }
    let mut claimed = Vec::new();
    for task in tasks {
        claimed.extend(tokio::time::timeout(PATIENCE, task).await.unwrap().unwrap());
    }
    assert_eq!(claimed.len(), 500, "one claim per job");
    let distinct: HashSet<JobId> = claimed.into_iter().collect();
    assert_eq!(distinct, ids.into_iter().collect::<HashSet<_>>());
    let jobs = h.p.list_jobs(&JobQuery::default()).await.unwrap();
    assert_eq!(jobs.len(), 500);
    assert!(jobs
        .iter()
        .all(|j| j.status == JobStatus::Processing && j.attempt == 1));
}

/// R9: eight `process_next_job` loops draining 200 jobs run each handler exactly once and
/// complete every job.
pub async fn r9_concurrent_process_next_job_runs_each_handler_once(store: TestStore) {
    let h = Harness::new(store);
    let runs = Runs::default();
    let mut processors = Vec::new();
    for i in 0..8 {
        let p = h.processor(&format!("loop-{i}"));
        p.register(counting_echo(&runs)).unwrap();
        processors.push(p);
    }
    processors[0].add_jobs("echo", inputs(200)).await.unwrap();
    let tasks: Vec<_> = processors
        .into_iter()
        .map(|p| {
            tokio::spawn(async move {
                let mut n = 0;
                while p.process_next_job().await.unwrap() {
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += tokio::time::timeout(PATIENCE, task).await.unwrap().unwrap();
    }
    assert_eq!(total, 200);
    assert_each_ran_once(&h, &runs, 200).await;
}

/// R9: four running job workers on one store drain 100 jobs, each run exactly once.
pub async fn r9_concurrent_workers_drain_the_queue_running_each_job_once(store: TestStore) {
    let h = Harness::new(store);
    let runs = Runs::default();
    let workers: Vec<Processor> = (0..4)
        .map(|i| {
            let p = h.processor(&format!("worker-{i}"));
            p.register(counting_echo(&runs)).unwrap();
            p
        })
        .collect();
    for p in &workers {
        p.start_processor();
    }
    workers[0].add_jobs("echo", inputs(100)).await.unwrap();
    wait_completed(&h, 100).await;
    for p in &workers {
        p.stop_processor().await;
    }
    assert_each_ran_once(&h, &runs, 100).await;
}

/// R2, R9: four running job workers on two handles on the same data (as two processes) drain
/// 100 jobs, each run exactly once.
pub async fn r9_workers_on_two_handles_run_each_job_once(store: TestStore) {
    let other = store.another_handle().await;
    let h = Harness::new(store);
    let runs = Runs::default();
    let workers: Vec<Processor> = (0..4)
        .map(|i| {
            let name = format!("worker-{i}");
            let p = if i % 2 == 0 {
                h.processor(&name)
            } else {
                h.processor_on(&other, &name)
            };
            p.register(counting_echo(&runs)).unwrap();
            p
        })
        .collect();
    for p in &workers {
        p.start_processor();
    }
    workers[1].add_jobs("echo", inputs(100)).await.unwrap();
    wait_completed(&h, 100).await;
    for p in &workers {
        p.stop_processor().await;
    }
    assert_each_ran_once(&h, &runs, 100).await;
}

/// R12: a multi worker with `concurrency = 3` never runs more than 3 handlers at once (and
/// does run several at once).
pub async fn r12_multi_worker_never_runs_more_than_its_concurrency(store: TestStore) {
    let h = Harness::new(store);
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let p = Processor::builder_with(h.jobs.clone(), h.items.clone())
        .name("multi")
        .clock(h.clock.clone())
        .worker(WorkerConfig::multi(3).wait_time(Duration::from_millis(20)))
        .build();
    let (r, m) = (running.clone(), most.clone());
    p.register(JobFactory::new(
        "busy",
        handler_fn(move |ctx: JobContext| {
            let (running, most) = (r.clone(), m.clone());
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(15)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                Ok::<_, JobError>(ctx.input)
            }
        }),
    ))
    .unwrap();
    p.add_jobs("busy", inputs(24)).await.unwrap();
    p.start_processor();
    wait_completed(&h, 24).await;
    p.stop_processor().await;
    let most = most.load(Ordering::SeqCst);
    assert!(
        most <= 3,
        "{most} handlers ran at once with concurrency = 3"
    );
    assert!(
        most >= 2,
        "a multi worker runs jobs side by side (most {most})"
    );
}

/// R1/R2: sixteen tasks adding 25 jobs each at once lose nothing: 400 distinct ids, all
/// stored and queued with their inputs.
pub async fn r1_concurrent_add_job_loses_nothing(store: TestStore) {
    let h = Harness::new(store);
    let tasks: Vec<_> = (0..16)
        .map(|t| {
            let p = h.p.clone();
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for n in 0..25 {
                    ids.push(p.add_job("echo", json!([t, n])).await.unwrap());
                }
                ids
            })
        })
        .collect();
    let mut ids = HashSet::new();
    for task in tasks {
        for id in tokio::time::timeout(PATIENCE, task).await.unwrap().unwrap() {
            assert!(ids.insert(id), "an id handed out twice");
        }
    }
    assert_eq!(ids.len(), 400);
    let jobs = h.p.list_jobs(&JobQuery::default()).await.unwrap();
    assert_eq!(jobs.len(), 400);
    let inputs: HashSet<String> = jobs.iter().map(|j| j.input.to_string()).collect();
    assert_eq!(inputs.len(), 400, "every input stored once");
    assert!(jobs.iter().all(|j| ids.contains(&j.id)));
    assert_eq!(h.p.count_jobs().await.unwrap()[&JobStatus::Queued], 400);
}

/// R4/R2: claims racing cancels agree: a job cancelled while queued was never claimed, a job
/// cancelled while processing was claimed once, and every job ends `cancelled`.
pub async fn r4_concurrent_cancel_and_claim_agree(store: TestStore) {
    let h = Harness::new(store);
    let ids = h.p.add_jobs("echo", inputs(200)).await.unwrap();
    let mut claimers = Vec::new();
    for i in 0..4 {
        let p = h.processor(&format!("claimer-{i}"));
        p.register(counting_echo(&Runs::default())).unwrap();
        claimers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while let Some(job) = p.pull_next_job().await.unwrap() {
                mine.push(job.id);
            }
            mine
        }));
    }
    let mut cancellers = Vec::new();
    for c in 0..4 {
        // Each canceller takes every fourth job, from the back of the line.
        let mine: Vec<JobId> = ids.iter().rev().skip(c).step_by(4).cloned().collect();
        let p = h.processor(&format!("canceller-{c}"));
        cancellers.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for id in mine {
                let outcome = p.cancel_job(&id).await.unwrap();
                outcomes.push((id, outcome));
            }
            outcomes
        }));
    }
    let mut claimed = HashSet::new();
    for task in claimers {
        for id in tokio::time::timeout(PATIENCE, task).await.unwrap().unwrap() {
            assert!(claimed.insert(id), "a job claimed twice");
        }
    }
    let mut outcomes = HashMap::new();
    for task in cancellers {
        outcomes.extend(tokio::time::timeout(PATIENCE, task).await.unwrap().unwrap());
    }
    assert_eq!(outcomes.len(), 200);
    for (id, outcome) in &outcomes {
        match outcome {
            CancelOutcome::Cancelled {
                was: JobStatus::Queued,
            } => assert!(!claimed.contains(id), "job {id} claimed after its cancel"),
            CancelOutcome::Cancelled {
                was: JobStatus::Processing,
            } => assert!(
                claimed.contains(id),
                "job {id} processing but never claimed"
            ),
            other => panic!("job {id}: unexpected {other:?}"),
        }
    }
    for job in h.p.list_jobs(&JobQuery::default()).await.unwrap() {
        assert_eq!(job.status, JobStatus::Cancelled);
        assert_eq!(job.lease_token, None);
        assert_eq!(job.attempt, u32::from(claimed.contains(&job.id)));
    }
}

/// R9: calling `process_job` a second time while the attempt runs does not run the handler a
/// second time for that attempt; the job completes once.
pub async fn r9_process_job_twice_at_once_runs_the_attempt_once(store: TestStore) {
    let h = Harness::new(store);
    let runs = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(tokio::sync::Semaphore::new(0));
    let open = Arc::new(tokio::sync::Semaphore::new(0));
    let (r, s, o) = (runs.clone(), started.clone(), open.clone());
    h.p.register(JobFactory::new(
        "held",
        handler_fn(move |ctx: JobContext| {
            let (runs, started, open) = (r.clone(), s.clone(), o.clone());
            async move {
                runs.fetch_add(1, Ordering::SeqCst);
                started.add_permits(1);
                open.acquire().await.expect("gate open").forget();
                Ok::<_, JobError>(ctx.input)
            }
        }),
    ))
    .unwrap();
    let id = h.p.add_job("held", json!("once")).await.unwrap();
    h.p.pull_next_job().await.unwrap().expect("a job");
    let spawn = |p: &Processor| {
        let (p, id) = (p.clone(), id.clone());
        tokio::spawn(async move { p.process_job(&id).await })
    };
    let first = spawn(&h.p);
    tokio::time::timeout(PATIENCE, started.acquire())
        .await
        .expect("the handler started")
        .unwrap()
        .forget();
    let mut second = spawn(&h.p);
    // The second call may refuse at once, wait for the first, or (wrongly) run the handler.
    let second_done = tokio::select! {
        permit = started.acquire() => {
            permit.unwrap().forget();
            None
        }
        done = &mut second => Some(done),
        () = tokio::time::sleep(Duration::from_secs(2)) => None,
    };
    open.add_permits(2);
    let first = tokio::time::timeout(PATIENCE, first)
        .await
        .unwrap()
        .unwrap();
    let second = match second_done {
        Some(done) => done,
        None => tokio::time::timeout(PATIENCE, second).await.unwrap(),
    }
    .unwrap();
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "one claimed attempt ran its handler twice (second call: {second:?})"
    );
    assert_eq!(first.unwrap(), JobStatus::Completed);
    let job = h.p.get_job(&id).await.unwrap();
    assert_eq!(job.status, JobStatus::Completed);
    assert_eq!(job.output, Some(json!("once")));
    assert_eq!(job.attempt, 1);
}
