//! R8 leases: a claim carries a lease and a fencing token; expired leases are recovered as
//! failed attempts; the old worker is fenced off afterwards.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use remote_core::{
    handler_fn, ClaimJobs, ErrorRecord, Job, JobContext, JobError, JobFactory, JobStatus, JobStore,
    LeaseToken, Processor, WorkerConfig,
};
use serde_json::json;

use crate::cancel::{finish, spawn_process, Gate, PATIENCE};
use crate::support::{t0, Harness, TestStore};

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_leases {
    ($make:expr) => {
        $crate::__area!($make; leases {
            r8_claim_writes_lease_and_token,
            r8_lease_is_renewed_while_the_handler_runs,
            r8_expired_lease_is_recovered_as_a_failed_attempt_and_retried,
            r8_expired_lease_on_the_last_attempt_ends_in_error,
            r8_live_lease_is_never_recovered,
            r8_old_worker_is_refused_after_recovery,
            r8_stale_worker_outcome_is_dropped,
            r8_recovered_job_is_claimed_again_with_a_new_token,
            r8_many_expired_leases_are_recovered_at_once,
            r8_concurrent_recoveries_record_one_error_per_lost_attempt,
            r8_handler_is_told_when_its_lease_is_lost,
            r8_running_worker_recovers_expired_leases,
            r8_new_attempt_runs_while_a_stale_one_lingers,
        });
    };
}

fn secs(n: i64) -> TimeDelta {
    TimeDelta::seconds(n)
}

/// A processor on the harness's store and clock with the given lease.
fn leased(h: &Harness, name: &str, lease: Duration) -> Processor {
    Processor::builder_with(h.jobs.clone(), h.items.clone())
        .name(name)
        .clock(h.clock.clone())
        .lease(lease)
        .build()
}

/// Claims up to `limit` echo jobs directly from the store, as a worker that then dies would.
async fn claim(
    store: &Arc<dyn JobStore>,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    token: LeaseToken,
    limit: usize,
) -> Vec<Job> {
    let names = vec!["echo".to_string()];
    store
        .claim_jobs(&ClaimJobs {
            names: &names,
            now,
            lease_until,
            token,
            limit,
        })
        .await
        .unwrap()
}

fn assert_worker_lost(record: &ErrorRecord, attempt: u32, at: DateTime<Utc>) {
    assert_eq!(record.attempt, attempt);
    assert_eq!(record.created, at);
    let text = record.message.to_lowercase();
    assert!(
        text.contains("worker") && text.contains("lost"),
        "the record says the worker was lost: {:?}",
        record.message
    );
}

/// R8: a claim writes `lease_until = now + lease` and a fencing token, through the processor
/// (its configured lease) and through the store (the values given).
pub async fn r8_claim_writes_lease_and_token(store: TestStore) {
    let h = Harness::new(store);
    let p = leased(&h, "long-lease", Duration::from_secs(45));
    p.register(JobFactory::new(
        "echo",
        handler_fn(|ctx: JobContext| async move { Ok::<_, JobError>(ctx.input) }),
    ))
    .unwrap();
    let first = p.add_job("echo", json!(1)).await.unwrap();
    let second = p.add_job("echo", json!(2)).await.unwrap();
    h.advance(Duration::from_secs(1));
    let claimed = p.pull_next_job().await.unwrap().unwrap();
    assert_eq!(claimed.id, first);
    assert_eq!(claimed.lease_until, Some(t0() + secs(46)));
    assert!(claimed.lease_token.is_some());
    assert_eq!(h.p.get_job(&first).await.unwrap(), claimed);
    let now = t0() + secs(2);
    let direct = claim(&h.jobs, now, now + secs(7), crate::calls::token(-12345), 1).await;
    assert_eq!(direct.len(), 1);
    assert_eq!(direct[0].id, second);
    let stored = h.p.get_job(&second).await.unwrap();
    assert_eq!(stored.lease_until, Some(now + secs(7)));
    assert_eq!(stored.lease_token, Some(crate::calls::token(-12345)));
    assert_ne!(claimed.lease_token, stored.lease_token);
}

/// R8: while a handler runs, the worker renews its lease from the processor's clock, so a
/// long attempt is not mistaken for a lost one.
pub async fn r8_lease_is_renewed_while_the_handler_runs(store: TestStore) {
    let h = Harness::new(store);
    let p = leased(&h, "renewing", Duration::from_millis(300));
    let gate = Gate::new();
    p.register(gate.factory("gated", Ok(json!("done"))))
        .unwrap();
    let id = p.add_job("gated", None).await.unwrap();
    let claimed = p.pull_next_job().await.unwrap().unwrap();
    assert_eq!(
        claimed.lease_until,
        Some(t0() + TimeDelta::milliseconds(300))
    );
    let task = spawn_process(&p, &id);
    gate.started().await;
    h.advance(Duration::from_secs(10));
    let renewed = t0() + secs(10) + TimeDelta::milliseconds(300);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let job = h.p.get_job(&id).await.unwrap();
        if job.lease_until == Some(renewed) {
            assert_eq!(
                job.lease_token, claimed.lease_token,
                "renewal keeps the token"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "lease not renewed: {:?}",
            job.lease_until
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(h.p.recover_expired_jobs().await.unwrap(), 0);
    gate.open();
    assert_eq!(finish(task).await.unwrap(), JobStatus::Completed);
    let job = h.p.get_job(&id).await.unwrap();
    assert_eq!(job.output, Some(json!("done")));
    assert_eq!(job.lease_until, None);
    assert_eq!(job.lease_token, None);
}

/// R8: an expired lease is recovered by any processor (even one without factories): the
/// attempt counts as failed with a "worker lost" record and, attempts being left, the job is
/// queued for a retry with its place in line kept.
pub async fn r8_expired_lease_is_recovered_as_a_failed_attempt_and_retried(store: TestStore) {
    let h = Harness::new(store);
    let id = h.p.add_job("echo", json!(1)).await.unwrap();
    h.p.pull_next_job().await.unwrap().unwrap(); // lease until t0 + 30 s; the worker dies
    h.advance(Duration::from_secs(31));
    let rescuer = h.processor("rescuer");
    assert_eq!(rescuer.recover_expired_jobs().await.unwrap(), 1);
    let job = h.p.get_job(&id).await.unwrap();
    assert_eq!(job.status, JobStatus::Queued);
    assert_eq!(job.attempt, 1);
    assert_eq!(job.queued_at, t0());
    assert_eq!(job.not_before, Some(t0() + secs(41)));
    assert_eq!(job.lease_until, None);
    assert_eq!(job.lease_token, None);
    assert_eq!(job.completed_at, None);
    let errors = h.p.job_errors(&id).await.unwrap();
    assert_eq!(errors.len(), 1);
    assert_worker_lost(&errors[0], 1, t0() + secs(31));
    assert_eq!(rescuer.recover_expired_jobs().await.unwrap(), 0);
}

/// R8/R3: a lease lost on the last allowed attempt ends the job in `error`, after the records
/// of the earlier failures.
pub async fn r8_expired_lease_on_the_last_attempt_ends_in_error(store: TestStore) {
    let h = Harness::new(store);
    let id = h.p.add_job("fatal", None).await.unwrap();
    for _ in 0..2 {
        assert!(h.p.process_next_job().await.unwrap());
        h.advance(Duration::from_secs(10));
    }
    let third = h.p.pull_next_job().await.unwrap().unwrap();
    assert_eq!(third.attempt, 3);
    h.advance(Duration::from_secs(30));
    let lost_at = h.p.now();
    assert_eq!(h.p.recover_expired_jobs().await.unwrap(), 1);
    let job = h.p.get_job(&id).await.unwrap();
    assert_eq!(job.status, JobStatus::Error);
    assert_eq!(job.completed_at, Some(lost_at));
    assert_eq!(job.lease_token, None);
    let errors = h.p.job_errors(&id).await.unwrap();
    assert_eq!(errors.len(), 3);
    assert_eq!(errors[0].message, "A fatal error occurred.");
    assert_eq!(errors[1].message, "A fatal error occurred.");
    assert_worker_lost(&errors[2], 3, lost_at);
    h.advance(Duration::from_secs(3600));
    assert!(h.p.pull_next_job().await.unwrap().is_none());
}

/// R8: recovery never touches a live lease (1 ms before `lease_until`); the lease counts as
/// expired from `lease_until` on.
pub async fn r8_live_lease_is_never_recovered(store: TestStore) {
    let h = Harness::new(store);
    let id = h.p.add_job("echo", json!(1)).await.unwrap();
    let claimed = h.p.pull_next_job().await.unwrap().unwrap();
    let lease_until = claimed.lease_until.unwrap();
    h.clock.set(lease_until - TimeDelta::milliseconds(1));
    assert_eq!(h.p.recover_expired_jobs().await.unwrap(), 0);
    assert!(crate::calls::expired(&*h.jobs, h.p.now(), 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(h.p.get_job(&id).await.unwrap(), claimed);
    assert!(h.p.job_errors(&id).await.unwrap().is_empty());
    h.clock.set(lease_until);
    let expired = crate::calls::expired(&*h.jobs, h.p.now(), 10)
        .await
        .unwrap();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0], claimed);
    assert_eq!(h.p.recover_expired_jobs().await.unwrap(), 1);
    assert_eq!(h.status(&id).await, JobStatus::Queued);
}

/// R8: after recovery the old worker's completion, failure and renewal are refused and the
/// job's state and records stay as recovery left them.
pub async fn r8_old_worker_is_refused_after_recovery(store: TestStore) {
    let h = Harness::new(store);
    let id = h.p.add_job("echo", json!(1)).await.unwrap();
    let old = h.p.pull_next_job().await.unwrap().unwrap();
    let token = old.lease_token.unwrap();
    h.advance(Duration::from_secs(30));
    assert_eq!(h.p.recover_expired_jobs().await.unwrap(), 1);
    let recovered = h.p.get_job(&id).await.unwrap();
    let records = h.p.job_errors(&id).await.unwrap();
    let now = h.p.now();
    assert!(
        !crate::calls::complete(&*h.jobs, &id, token, &json!("late"), now)
            .await
            .unwrap()
    );
    let failure = crate::calls::Failure {
        record: ErrorRecord::new(1, "late failure", now),
        retry_at: None,
        now,
    };
    assert!(!crate::calls::fail(&*h.jobs, &failure.of(&id, token))
        .await
        .unwrap());
    assert!(!crate::calls::renew(&*h.jobs, &id, token, now + secs(30))
        .await
        .unwrap());
    assert_eq!(h.p.get_job(&id).await.unwrap(), recovered);
    assert_eq!(h.p.job_errors(&id).await.unwrap(), records);
    assert_eq!(records.len(), 1, "one outcome for the lost attempt");
}

/// R8: a stale worker whose attempt ends after recovery (and after a new claim) has its
/// outcome dropped; the new attempt's outcome is the one stored.
pub async fn r8_stale_worker_outcome_is_dropped(store: TestStore) {
    let h = Harness::new(store);
    let gate = Gate::new();
    h.p.register(gate.factory("gated", Ok(json!("stale output"))))
        .unwrap();
    let rescuer = h.processor("rescuer");
    rescuer
        .register(JobFactory::new(
            "gated",
            handler_fn(|_ctx: JobContext| async move { Ok::<_, JobError>(json!("fresh output")) }),
        ))
        .unwrap();
    let id = h.p.add_job("gated", None).await.unwrap();
    h.p.pull_next_job().await.unwrap().unwrap();
    let stale = spawn_process(&h.p, &id);
    gate.started().await;
    h.advance(Duration::from_secs(31));
    assert_eq!(rescuer.recover_expired_jobs().await.unwrap(), 1);
    h.advance(Duration::from_secs(10));
    let again = rescuer.pull_next_job().await.unwrap().unwrap();
    assert_eq!(again.attempt, 2);
    gate.open();
    assert_eq!(
        finish(stale).await.unwrap(),
        JobStatus::Processing,
        "the stale outcome is dropped; the job is in its new attempt"
    );
    let job = h.p.get_job(&id).await.unwrap();
    assert_eq!(job.output, None);
    assert_eq!(job.lease_token, again.lease_token);
    assert_eq!(h.p.job_errors(&id).await.unwrap().len(), 1);
    assert_eq!(
        rescuer.process_job(&id).await.unwrap(),
        JobStatus::Completed
    );
    assert_eq!(
        h.p.job_result(&id).await.unwrap(),
        Some(json!("fresh output"))
    );
    assert_eq!(h.p.job_errors(&id).await.unwrap().len(), 1);
}

/// R8: a recovered job is claimed again with a new token and a higher `attempt`; only
/// the new token ends the attempt.
pub async fn r8_recovered_job_is_claimed_again_with_a_new_token(store: TestStore) {
    let h = Harness::new(store);
    let id = h.p.add_job("echo", json!("again")).await.unwrap();
    let first = h.p.pull_next_job().await.unwrap().unwrap();
    h.advance(Duration::from_secs(30));
    h.p.recover_expired_jobs().await.unwrap();
    assert!(
        h.p.pull_next_job().await.unwrap().is_none(),
        "waits its retry delay"
    );
    h.advance(Duration::from_secs(10));
    let second = h.p.pull_next_job().await.unwrap().unwrap();
    assert_eq!(second.id, id);
    assert_eq!(second.attempt, 2);
    assert_eq!(second.picked_at, Some(h.p.now()));
    assert_eq!(second.lease_until, Some(h.p.now() + secs(30)));
    assert_ne!(second.lease_token, first.lease_token);
    let now = h.p.now();
    assert!(!crate::calls::complete(
        &*h.jobs,
        &id,
        first.lease_token.unwrap(),
        &json!("old"),
        now
    )
    .await
    .unwrap());
    assert_eq!(h.p.process_job(&id).await.unwrap(), JobStatus::Completed);
    assert_eq!(h.p.job_result(&id).await.unwrap(), Some(json!("again")));
}

/// R8: many expired leases (more than one recovery batch) are all recovered in one call.
pub async fn r8_many_expired_leases_are_recovered_at_once(store: TestStore) {
    let h = Harness::new(store);
    h.p.add_jobs("echo", (0..150).map(|n| json!(n)).collect())
        .await
        .unwrap();
    let claimed = claim(&h.jobs, t0(), t0() + secs(30), crate::calls::token(8), 150).await;
    assert_eq!(claimed.len(), 150);
    h.advance(Duration::from_secs(30));
    assert_eq!(h.p.recover_expired_jobs().await.unwrap(), 150);
    let counts = h.p.count_jobs().await.unwrap();
    assert_eq!(counts[&JobStatus::Queued], 150);
    assert_eq!(counts[&JobStatus::Processing], 0);
    assert!(crate::calls::expired(&*h.jobs, h.p.now(), 1000)
        .await
        .unwrap()
        .is_empty());
    for job in claimed.iter().step_by(15) {
        assert_eq!(h.p.job_errors(&job.id).await.unwrap().len(), 1);
    }
}

/// R8/R9: four processors recovering the same 40 expired leases at once record exactly one
/// error per lost attempt.
pub async fn r8_concurrent_recoveries_record_one_error_per_lost_attempt(store: TestStore) {
    let h = Harness::new(store);
    h.p.add_jobs("echo", (0..40).map(|n| json!(n)).collect())
        .await
        .unwrap();
    let claimed = claim(&h.jobs, t0(), t0() + secs(30), crate::calls::token(8), 40).await;
    assert_eq!(claimed.len(), 40);
    h.advance(Duration::from_secs(31));
    let tasks: Vec<_> = (0..4)
        .map(|i| {
            let p = h.processor(&format!("rescuer-{i}"));
            tokio::spawn(async move { p.recover_expired_jobs().await.unwrap() })
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += tokio::time::timeout(PATIENCE, task).await.unwrap().unwrap();
    }
    assert_eq!(total, 40, "each lost attempt recovered once");
    for job in &claimed {
        let errors = h.p.job_errors(&job.id).await.unwrap();
        assert_eq!(errors.len(), 1, "job {}: {errors:?}", job.id);
        let stored = h.p.get_job(&job.id).await.unwrap();
        assert_eq!(stored.status, JobStatus::Queued);
        assert_eq!(stored.attempt, 1);
    }
}

/// R8: when its lease is recovered elsewhere, the running handler is told through its
/// context (its renewal is refused), and its outcome is dropped.
pub async fn r8_handler_is_told_when_its_lease_is_lost(store: TestStore) {
    let h = Harness::new(store);
    let p = leased(&h, "short-lease", Duration::from_millis(300));
    let gate = Gate::new();
    p.register(gate.watching_factory("watch")).unwrap();
    let id = p.add_job("watch", None).await.unwrap();
    p.pull_next_job().await.unwrap().unwrap();
    let task = spawn_process(&p, &id);
    gate.started().await;
    let rescuer = h.processor("rescuer");
    // The running worker renews every 100 ms; step the clock until a recovery wins.
    let mut recovered = 0;
    for _ in 0..100 {
        h.advance(Duration::from_secs(1));
        recovered = rescuer.recover_expired_jobs().await.unwrap();
        if recovered == 1 {
            break;
        }
    }
    assert_eq!(recovered, 1, "the lease was recovered");
    assert_eq!(finish(task).await.unwrap(), JobStatus::Queued);
    assert!(gate.saw_cancel(), "the handler was told its lease was lost");
    let job = h.p.get_job(&id).await.unwrap();
    assert_eq!(job.status, JobStatus::Queued);
    assert_eq!(job.output, None);
    let errors = h.p.job_errors(&id).await.unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_worker_lost(&errors[0], 1, errors[0].created);
}

/// R8: a running job worker recovers expired leases of a dead worker by itself and then runs
/// the job to completion.
pub async fn r8_running_worker_recovers_expired_leases(store: TestStore) {
    let h = Harness::new(store);
    let id =
        h.p.add_job("echo", json!({"survives": true}))
            .await
            .unwrap();
    claim(&h.jobs, t0(), t0() + secs(30), crate::calls::token(99), 1).await;
    h.advance(Duration::from_secs(31));
    let worker = Processor::builder_with(h.jobs.clone(), h.items.clone())
        .name("rescuer")
        .clock(h.clock.clone())
        .worker(WorkerConfig::simple().wait_time(Duration::from_millis(20)))
        .recover_interval(Duration::from_millis(10))
        .build();
    worker
        .register(JobFactory::new(
            "echo",
            handler_fn(|ctx: JobContext| async move { Ok::<_, JobError>(ctx.input) }),
        ))
        .unwrap();
    worker.start_processor();
    h.wait_for_status(&id, JobStatus::Queued).await;
    h.advance(Duration::from_secs(10));
    h.wait_for_status(&id, JobStatus::Completed).await;
    worker.stop_processor().await;
    let job = h.p.get_job(&id).await.unwrap();
    assert_eq!(job.attempt, 2);
    assert_eq!(job.output, Some(json!({"survives": true})));
    let errors = h.p.job_errors(&id).await.unwrap();
    assert_eq!(errors.len(), 1);
    assert_worker_lost(&errors[0], 1, t0() + secs(31));
}

/// R8/R9/R4: a stale attempt that ignores its signals and lingers on a processor does not stop
/// that processor from running the job's new attempt (claimed after recovery); once the stale
/// one ends, cancelling the job still tells the new attempt's handler at once.
pub async fn r8_new_attempt_runs_while_a_stale_one_lingers(store: TestStore) {
    let h = Harness::new(store);
    let gate = Gate::new();
    let g = gate.clone();
    h.p.register(JobFactory::new(
        "twice",
        handler_fn(move |ctx: JobContext| {
            let gate = g.clone();
            async move {
                gate.started.add_permits(1);
                if ctx.attempt == 1 {
                    // The stale attempt ignores its signals and ends when the test says so.
                    gate.open.acquire().await.expect("gate open").forget();
                    return Ok(json!("stale"));
                }
                // Well under the 10 s after which lease renewal would tell it anyway.
                match tokio::time::timeout(Duration::from_secs(5), ctx.cancelled()).await {
                    Ok(()) => {
                        gate.saw_cancel.store(true, Ordering::SeqCst);
                        Ok(json!("stopped"))
                    }
                    Err(_) => Err(JobError::retryable("the new attempt was never told")),
                }
            }
        }),
    ))
    .unwrap();
    let id = h.p.add_job("twice", None).await.unwrap();
    h.p.pull_next_job().await.unwrap().expect("attempt 1");
    let stale = spawn_process(&h.p, &id);
    gate.started().await;
    h.advance(Duration::from_secs(31));
    assert_eq!(
        h.processor("rescuer").recover_expired_jobs().await.unwrap(),
        1
    );
    h.advance(Duration::from_secs(10));
    let second = h.p.pull_next_job().await.unwrap().expect("attempt 2");
    assert_eq!(second.attempt, 2);
    let mut current = spawn_process(&h.p, &id);
    tokio::select! {
        permit = gate.started.acquire() => permit.expect("semaphore open").forget(),
        refused = &mut current => panic!(
            "the claimed attempt 2 was not run while stale attempt 1 lingers: {refused:?}"
        ),
        () = tokio::time::sleep(PATIENCE) => panic!("attempt 2 did not start"),
    }
    gate.open();
    assert_eq!(finish(stale).await.unwrap(), JobStatus::Processing);
    assert_eq!(
        h.p.cancel_job(&id).await.unwrap(),
        remote_core::CancelOutcome::Cancelled {
            was: JobStatus::Processing
        }
    );
    assert_eq!(finish(current).await.unwrap(), JobStatus::Cancelled);
    assert!(
        gate.saw_cancel(),
        "the running attempt's handler was not told of the cancel"
    );
}
