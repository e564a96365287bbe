//! R2 atomic claims and R9 exactly one outcome per attempt, under concurrent workers.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::TimeDelta;
use remote_core::{
    handler_fn, CancelOutcome, Claim, ErrorRecord, Failure, Job, JobContext, JobError, JobFactory,
    JobId, JobQuery, JobStatus, LeaseToken, Processor, WorkerConfig,
};
use serde_json::{json, Value};

use crate::cancel::PATIENCE;
use crate::support::{t0, Harness, TestStore};

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_concurrency {
    ($make:expr) => {
        $crate::__area!($make; concurrency {
            r2_concurrent_claimers_take_each_job_exactly_once,
            r2_concurrent_batch_claims_take_each_job_exactly_once,
            r9_concurrent_process_next_job_runs_each_handler_once,
            r9_concurrent_workers_drain_the_queue_running_each_job_once,
            r12_multi_worker_never_runs_more_than_max_threads,
            r1_concurrent_add_job_loses_nothing,
            r4_concurrent_cancel_and_claim_agree,
            r9_racing_outcomes_of_one_attempt_apply_once,
            r9_a_repeated_store_call_applies_once,
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
        assert_eq!(job.retry_counter, 1, "{job:?}");
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
        .all(|j| j.status == JobStatus::Processing && j.retry_counter == 1));
}

/// R2 (store): eight claimers taking batches of 10 at once get disjoint batches covering all
/// 500 jobs; each stored token is that of the one claim that returned the job.
pub async fn r2_concurrent_batch_claims_take_each_job_exactly_once(store: TestStore) {
    let h = Harness::new(store);
    let jobs: Vec<Job> = (0..500)
        .map(|n| Job::queued("echo", json!(n), 3, Duration::from_secs(10), t0()))
        .collect();
    h.jobs.insert_jobs(&jobs).await.unwrap();
    let mut tasks = Vec::new();
    for claimer in 0..8i64 {
        let store = h.jobs.clone();
        tasks.push(tokio::spawn(async move {
            let names = vec!["echo".to_string()];
            let now = t0() + TimeDelta::seconds(1);
            let mut mine = Vec::new();
            for round in 0.. {
                let token = LeaseToken(claimer * 1_000_000 + round);
                let batch = store
                    .claim_jobs(&Claim {
                        names: &names,
                        now,
                        lease_until: now + TimeDelta::seconds(30),
                        token,
                        limit: 10,
                    })
                    .await
                    .unwrap();
                if batch.is_empty() {
                    break;
                }
                assert!(batch.len() <= 10, "limit kept");
                for job in batch {
                    assert_eq!(job.lease_token, Some(token));
                    mine.push((job.id, token));
                }
            }
            mine
        }));
    }
    let mut claimed: HashMap<JobId, LeaseToken> = HashMap::new();
    for task in tasks {
        for (id, token) in tokio::time::timeout(PATIENCE, task).await.unwrap().unwrap() {
            assert!(
                claimed.insert(id.clone(), token).is_none(),
                "job {id} claimed twice"
            );
        }
    }
    assert_eq!(claimed.len(), 500);
    for job in h.p.list_jobs(&JobQuery::default()).await.unwrap() {
        assert_eq!(job.status, JobStatus::Processing);
        assert_eq!(job.retry_counter, 1);
        assert_eq!(job.lease_token, claimed.get(&job.id).copied());
    }
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

/// R12: a multi worker with `max_threads = 3` never runs more than 3 handlers at once (and
/// does run several at once).
pub async fn r12_multi_worker_never_runs_more_than_max_threads(store: TestStore) {
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
        "{most} handlers ran at once with max_threads = 3"
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
        assert_eq!(job.retry_counter, u32::from(claimed.contains(&job.id)));
    }
}

/// R9 (store): eight calls racing to end one attempt (four completions, four failures) apply
/// exactly once, and the stored outcome is the winner's.
pub async fn r9_racing_outcomes_of_one_attempt_apply_once(store: TestStore) {
    let h = Harness::new(store);
    let job = Job::queued("echo", json!(0), 3, Duration::from_secs(10), t0());
    let id = job.id.clone();
    h.jobs.insert_jobs(&[job]).await.unwrap();
    let names = vec!["echo".to_string()];
    let now = t0() + TimeDelta::seconds(1);
    let token = LeaseToken(77);
    let claimed = h
        .jobs
        .claim_jobs(&Claim {
            names: &names,
            now,
            lease_until: now + TimeDelta::seconds(30),
            token,
            limit: 1,
        })
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = h.jobs.clone();
            let id = id.clone();
            tokio::spawn(async move {
                let applied = if i % 2 == 0 {
                    store
                        .complete_job(&id, token, &json!({"winner": i}), now)
                        .await
                        .unwrap()
                } else {
                    let failure = Failure {
                        record: ErrorRecord::new(1, format!("failure {i}"), now),
                        retry_at: Some(now + TimeDelta::seconds(10)),
                        now,
                        lease_expired: false,
                    };
                    store.fail_job(&id, token, &failure).await.unwrap()
                };
                (i, applied)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (i, applied) = tokio::time::timeout(PATIENCE, task).await.unwrap().unwrap();
        if applied {
            winners.push(i);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one outcome applied: {winners:?}");
    let winner = winners[0];
    let stored = h.jobs.get_job(&id).await.unwrap().unwrap();
    let errors = h.jobs.job_errors(&id).await.unwrap().unwrap();
    if winner % 2 == 0 {
        assert_eq!(stored.status, JobStatus::Completed);
        assert_eq!(stored.output, Some(json!({"winner": winner})));
        assert!(errors.is_empty(), "{errors:?}");
    } else {
        assert_eq!(stored.status, JobStatus::Queued);
        assert_eq!(stored.output, None);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].message, format!("failure {winner}"));
    }
}

/// R9 (store): repeating a store call for one attempt (as a retry after a lost reply does)
/// applies once: a second failure adds no record, a second completion changes no output.
pub async fn r9_a_repeated_store_call_applies_once(store: TestStore) {
    let h = Harness::new(store);
    let failing = Job::queued("echo", json!("f"), 3, Duration::from_secs(10), t0());
    let completing = Job::queued(
        "echo",
        json!("c"),
        3,
        Duration::from_secs(10),
        t0() + TimeDelta::milliseconds(1),
    );
    h.jobs
        .insert_jobs(&[failing.clone(), completing.clone()])
        .await
        .unwrap();
    let names = vec!["echo".to_string()];
    let now = t0() + TimeDelta::seconds(1);
    let token = LeaseToken(5);
    let claimed = h
        .jobs
        .claim_jobs(&Claim {
            names: &names,
            now,
            lease_until: now + TimeDelta::seconds(30),
            token,
            limit: 2,
        })
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    let failure = Failure {
        record: ErrorRecord::new(1, "failed once", now),
        retry_at: Some(now),
        now,
        lease_expired: false,
    };
    assert!(h.jobs.fail_job(&failing.id, token, &failure).await.unwrap());
    assert!(!h.jobs.fail_job(&failing.id, token, &failure).await.unwrap());
    assert_eq!(
        h.jobs.job_errors(&failing.id).await.unwrap().unwrap().len(),
        1
    );
    let queued = h.jobs.get_job(&failing.id).await.unwrap().unwrap();
    assert_eq!(queued.status, JobStatus::Queued);
    assert_eq!(queued.retry_counter, 1);
    assert!(h
        .jobs
        .complete_job(&completing.id, token, &json!("first"), now)
        .await
        .unwrap());
    let later = now + TimeDelta::seconds(5);
    assert!(!h
        .jobs
        .complete_job(&completing.id, token, &json!("second"), later)
        .await
        .unwrap());
    let done = h.jobs.get_job(&completing.id).await.unwrap().unwrap();
    assert_eq!(done.output, Some(json!("first")));
    assert_eq!(done.completed_at, Some(now));
    assert!(!h
        .jobs
        .fail_job(&completing.id, token, &failure)
        .await
        .unwrap());
    assert!(h
        .jobs
        .job_errors(&completing.id)
        .await
        .unwrap()
        .unwrap()
        .is_empty());
    assert_eq!(
        h.jobs
            .get_job(&completing.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        JobStatus::Completed
    );
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
    assert_eq!(job.retry_counter, 1);
}
