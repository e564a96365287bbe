//! R4 cancel: queued and processing jobs become `cancelled` and stay so; ended jobs are left as
//! they are; the running handler is told.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use remote_core::{
    handler_fn, CancelOutcome, Error, JobContext, JobError, JobFactory, JobId, JobQuery, JobStatus,
    Processor, Result,
};
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use crate::support::{t0, Harness, TestStore};

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_cancel {
    ($make:expr) => {
        $crate::__area!($make; cancel {
            r4_cancelled_queued_job_is_never_pulled,
            r4_cancel_of_a_processing_job_ends_its_lease,
            r4_completion_after_cancel_is_dropped,
            r4_failure_after_cancel_does_not_change_the_status,
            r4_process_job_after_cancel_stores_nothing,
            r4_ended_jobs_are_left_unchanged,
            r4_cancel_of_an_unknown_or_removed_id_is_not_found,
            r4_running_handler_is_told_through_its_context,
            r4_cancel_from_another_processor_reaches_the_handler,
            r4_cancel_of_a_job_waiting_for_retry_is_final,
            r4_cancel_leaves_other_jobs_in_line,
        });
    };
}

pub(crate) use crate::support::PATIENCE;

/// A handler the test steers: it reports when it starts, then either waits for the gate to
/// open and returns a fixed outcome, or (watching) waits to be told to stop via its context.
#[derive(Clone)]
pub(crate) struct Gate {
    /// One permit per handler start.
    pub(crate) started: Arc<Semaphore>,
    /// One permit per handler allowed to return.
    pub(crate) open: Arc<Semaphore>,
    /// Set by a handler that was told to stop.
    pub(crate) saw_cancel: Arc<AtomicBool>,
}

impl Gate {
    /// A closed gate.
    pub(crate) fn new() -> Self {
        Self {
            started: Arc::new(Semaphore::new(0)),
            open: Arc::new(Semaphore::new(0)),
            saw_cancel: Arc::new(AtomicBool::new(false)),
        }
    }

    /// A factory whose handler starts, waits for [`Gate::open`], then returns `outcome`.
    pub(crate) fn factory(&self, name: &str, outcome: Result<Value, JobError>) -> JobFactory {
        let gate = self.clone();
        JobFactory::new(
            name,
            handler_fn(move |_ctx: JobContext| {
                let gate = gate.clone();
                let outcome = outcome.clone();
                async move {
                    gate.started.add_permits(1);
                    gate.open.acquire().await.expect("gate open").forget();
                    outcome
                }
            }),
        )
    }

    /// A factory whose handler starts, then waits (≤ 20 s) for its context to say stop; it
    /// returns `"stopped"` when told and fails otherwise.
    pub(crate) fn watching_factory(&self, name: &str) -> JobFactory {
        let gate = self.clone();
        JobFactory::new(
            name,
            handler_fn(move |ctx: JobContext| {
                let gate = gate.clone();
                async move {
                    gate.started.add_permits(1);
                    match tokio::time::timeout(PATIENCE, ctx.cancelled()).await {
                        Ok(()) => {
                            assert!(ctx.is_cancelled());
                            gate.saw_cancel.store(true, Ordering::SeqCst);
                            Ok(json!("stopped"))
                        }
                        Err(_) => Err(JobError::retryable("the handler was never told to stop")),
                    }
                }
            }),
        )
    }

    /// Waits (≤ 20 s) until a handler of this gate started.
    pub(crate) async fn started(&self) {
        tokio::time::timeout(PATIENCE, self.started.acquire())
            .await
            .expect("the handler started in time")
            .expect("semaphore open")
            .forget();
    }

    /// Lets one waiting handler return.
    pub(crate) fn open(&self) {
        self.open.add_permits(1);
    }

    /// True once a watching handler was told to stop.
    pub(crate) fn saw_cancel(&self) -> bool {
        self.saw_cancel.load(Ordering::SeqCst)
    }
}

/// Runs `process_job` in a task, as a worker would, so the test can act while it runs.
pub(crate) fn spawn_process(
    p: &Processor,
    id: &JobId,
) -> tokio::task::JoinHandle<Result<JobStatus>> {
    let p = p.clone();
    let id = id.clone();
    tokio::spawn(async move { p.process_job(&id).await })
}

/// Waits (≤ 20 s) for a spawned `process_job` to end.
pub(crate) async fn finish(task: tokio::task::JoinHandle<Result<JobStatus>>) -> Result<JobStatus> {
    tokio::time::timeout(PATIENCE, task)
        .await
        .expect("process_job ended in time")
        .expect("process_job did not panic")
}

/// R4: a queued job becomes `cancelled` (`was: queued`, `completed_at = now`) and is never pulled.
pub async fn r4_cancelled_queued_job_is_never_pulled(store: TestStore) {
    let h = Harness::new(store);
    let id = h.p.add_job("echo", json!(1)).await.unwrap();
    h.advance(Duration::from_secs(2));
    assert_eq!(
        h.p.cancel_job(&id).await.unwrap(),
        CancelOutcome::Cancelled {
            was: JobStatus::Queued
        }
    );
    let job = h.p.get_job(&id).await.unwrap();
    assert_eq!(job.status, JobStatus::Cancelled);
    assert_eq!(job.completed_at, Some(t0() + TimeDelta::seconds(2)));
    assert_eq!(job.attempt, 0);
    assert!(h.p.pull_next_job().await.unwrap().is_none());
    h.advance(Duration::from_secs(3600));
    assert!(!h.p.process_next_job().await.unwrap());
    assert_eq!(h.status(&id).await, JobStatus::Cancelled);
    assert_eq!(h.p.job_result(&id).await.unwrap(), None);
}

/// R4: a processing job becomes `cancelled` (`was: processing`), its lease is cleared and it is
/// not pulled again.
pub async fn r4_cancel_of_a_processing_job_ends_its_lease(store: TestStore) {
    let h = Harness::new(store);
    let id = h.p.add_job("echo", json!(1)).await.unwrap();
    let claimed = h.p.pull_next_job().await.unwrap().expect("a job");
    assert!(claimed.lease_token.is_some());
    h.advance(Duration::from_secs(1));
    assert_eq!(
        h.p.cancel_job(&id).await.unwrap(),
        CancelOutcome::Cancelled {
            was: JobStatus::Processing
        }
    );
    let job = h.p.get_job(&id).await.unwrap();
    assert_eq!(job.status, JobStatus::Cancelled);
    assert_eq!(job.lease_until, None);
    assert_eq!(job.lease_token, None);
    assert_eq!(job.completed_at, Some(t0() + TimeDelta::seconds(1)));
    assert_eq!(job.attempt, 1);
    h.advance(Duration::from_secs(60));
    assert!(h.p.pull_next_job().await.unwrap().is_none());
    assert_eq!(
        h.p.recover_expired_jobs().await.unwrap(),
        0,
        "a cancelled job has no lease to recover"
    );
    assert_eq!(h.status(&id).await, JobStatus::Cancelled);
}

/// R4: a running attempt that returns output after the cancel does not overwrite `cancelled`;
/// its output is dropped.
pub async fn r4_completion_after_cancel_is_dropped(store: TestStore) {
    let h = Harness::new(store);
    let gate = Gate::new();
    h.p.register(gate.factory("gated", Ok(json!("late output"))))
        .unwrap();
    let id = h.p.add_job("gated", None).await.unwrap();
    h.p.pull_next_job().await.unwrap().expect("a job");
    let task = spawn_process(&h.p, &id);
    gate.started().await;
    assert_eq!(
        h.p.cancel_job(&id).await.unwrap(),
        CancelOutcome::Cancelled {
            was: JobStatus::Processing
        }
    );
    gate.open();
    assert_eq!(finish(task).await.unwrap(), JobStatus::Cancelled);
    let job = h.p.get_job(&id).await.unwrap();
    assert_eq!(job.status, JobStatus::Cancelled);
    assert_eq!(job.output, None);
    assert_eq!(h.p.job_result(&id).await.unwrap(), None);
    h.advance(Duration::from_secs(3600));
    assert!(h.p.pull_next_job().await.unwrap().is_none());
}

/// R4: a running attempt that fails after the cancel does not change `cancelled` and causes no
/// retry.
pub async fn r4_failure_after_cancel_does_not_change_the_status(store: TestStore) {
    let h = Harness::new(store);
    let gate = Gate::new();
    h.p.register(gate.factory("gated", Err(JobError::retryable("failed late"))))
        .unwrap();
    let id = h.p.add_job("gated", None).await.unwrap();
    h.p.pull_next_job().await.unwrap().expect("a job");
    let task = spawn_process(&h.p, &id);
    gate.started().await;
    h.p.cancel_job(&id).await.unwrap();
    gate.open();
    assert_eq!(finish(task).await.unwrap(), JobStatus::Cancelled);
    let job = h.p.get_job(&id).await.unwrap();
    assert_eq!(job.status, JobStatus::Cancelled);
    assert_eq!(job.attempt, 1);
    h.advance(Duration::from_secs(3600));
    assert!(h.p.pull_next_job().await.unwrap().is_none());
    assert_eq!(h.status(&id).await, JobStatus::Cancelled);
    assert!(h.p.job_errors(&id).await.unwrap().len() <= 1);
}

/// R4: `process_job` of a job cancelled after its claim stores no output and keeps `cancelled`.
pub async fn r4_process_job_after_cancel_stores_nothing(store: TestStore) {
    let h = Harness::new(store);
    let id = h.p.add_job("echo", json!({"v": 1})).await.unwrap();
    h.p.pull_next_job().await.unwrap().expect("a job");
    h.p.cancel_job(&id).await.unwrap();
    match h.p.process_job(&id).await {
        Ok(status) => assert_eq!(status, JobStatus::Cancelled),
        Err(Error::NotClaimed { id: got, status }) => {
            assert_eq!(got, id);
            assert_eq!(status, JobStatus::Cancelled);
        }
        Err(other) => panic!("unexpected error {other:?}"),
    }
    let job = h.p.get_job(&id).await.unwrap();
    assert_eq!(job.status, JobStatus::Cancelled);
    assert_eq!(job.output, None);
    assert_eq!(h.p.job_result(&id).await.unwrap(), None);
}

/// R4: cancelling a completed, error or cancelled job changes nothing and says
/// `Unchanged(status)`.
pub async fn r4_ended_jobs_are_left_unchanged(store: TestStore) {
    let h = Harness::new(store);
    let completed = h.p.add_job("echo", json!("done")).await.unwrap();
    let error = h.p.add_job("error", None).await.unwrap();
    let cancelled = h.p.add_job("echo", json!("never")).await.unwrap();
    assert!(h.p.process_next_job().await.unwrap());
    assert!(h.p.process_next_job().await.unwrap());
    h.p.cancel_job(&cancelled).await.unwrap();
    h.advance(Duration::from_secs(5));
    for (id, status) in [
        (&completed, JobStatus::Completed),
        (&error, JobStatus::Error),
        (&cancelled, JobStatus::Cancelled),
    ] {
        let before = h.p.get_job(id).await.unwrap();
        let errors = h.p.job_errors(id).await.unwrap();
        assert_eq!(before.status, status);
        assert_eq!(
            h.p.cancel_job(id).await.unwrap(),
            CancelOutcome::Unchanged(status)
        );
        assert_eq!(
            h.p.get_job(id).await.unwrap(),
            before,
            "{status} job untouched"
        );
        assert_eq!(h.p.job_errors(id).await.unwrap(), errors);
    }
    assert_eq!(
        h.p.job_result(&completed).await.unwrap(),
        Some(json!("done"))
    );
}

/// R4: cancelling an id that was never stored, or whose job was removed, is `JobNotFound`
/// naming it, and stores nothing.
pub async fn r4_cancel_of_an_unknown_or_removed_id_is_not_found(store: TestStore) {
    let h = Harness::new(store);
    let unknown = JobId::new();
    assert!(matches!(
        h.p.cancel_job(&unknown).await,
        Err(Error::JobNotFound(x)) if x == unknown
    ));
    let removed = h.p.add_job("echo", json!(1)).await.unwrap();
    assert!(h.p.process_next_job().await.unwrap());
    h.p.remove_jobs(&[]).await.unwrap();
    assert!(matches!(
        h.p.cancel_job(&removed).await,
        Err(Error::JobNotFound(x)) if x == removed
    ));
    assert!(h
        .p
        .list_jobs(&JobQuery::default())
        .await
        .unwrap()
        .is_empty());
}

/// R4: the running handler is told through its context when its job is cancelled.
pub async fn r4_running_handler_is_told_through_its_context(store: TestStore) {
    let h = Harness::new(store);
    let gate = Gate::new();
    h.p.register(gate.watching_factory("watch")).unwrap();
    let id = h.p.add_job("watch", None).await.unwrap();
    h.p.pull_next_job().await.unwrap().expect("a job");
    let task = spawn_process(&h.p, &id);
    gate.started().await;
    assert!(!gate.saw_cancel());
    h.p.cancel_job(&id).await.unwrap();
    assert_eq!(finish(task).await.unwrap(), JobStatus::Cancelled);
    assert!(gate.saw_cancel(), "the handler saw the cancel");
    assert_eq!(h.p.get_job(&id).await.unwrap().output, None);
}

/// R4: a cancel made through another processor on the same store also reaches the running
/// handler (its lease renewal is refused and it is told to stop).
pub async fn r4_cancel_from_another_processor_reaches_the_handler(store: TestStore) {
    let h = Harness::new(store);
    let runner = Processor::builder_with(h.jobs.clone(), h.items.clone())
        .name("runner")
        .clock(h.clock.clone())
        .lease(Duration::from_millis(300))
        .build();
    let gate = Gate::new();
    runner.register(gate.watching_factory("watch")).unwrap();
    let id = runner.add_job("watch", None).await.unwrap();
    runner.pull_next_job().await.unwrap().expect("a job");
    let task = spawn_process(&runner, &id);
    gate.started().await;
    assert_eq!(
        h.processor("elsewhere").cancel_job(&id).await.unwrap(),
        CancelOutcome::Cancelled {
            was: JobStatus::Processing
        }
    );
    assert_eq!(finish(task).await.unwrap(), JobStatus::Cancelled);
    assert!(gate.saw_cancel(), "the handler was told to stop");
    assert_eq!(h.status(&id).await, JobStatus::Cancelled);
}

/// R4: a job queued for a retry can be cancelled; it keeps its error records and is never
/// pulled after its `not_before`.
pub async fn r4_cancel_of_a_job_waiting_for_retry_is_final(store: TestStore) {
    let h = Harness::new(store);
    let id = h.p.add_job("fatal", None).await.unwrap();
    assert!(h.p.process_next_job().await.unwrap());
    assert_eq!(h.status(&id).await, JobStatus::Queued);
    assert_eq!(
        h.p.cancel_job(&id).await.unwrap(),
        CancelOutcome::Cancelled {
            was: JobStatus::Queued
        }
    );
    h.advance(Duration::from_secs(3600));
    assert!(h.p.pull_next_job().await.unwrap().is_none());
    let job = h.p.get_job(&id).await.unwrap();
    assert_eq!(job.status, JobStatus::Cancelled);
    assert_eq!(job.attempt, 1);
    assert_eq!(h.p.job_errors(&id).await.unwrap().len(), 1);
}

/// R4: cancelling one job leaves the others in their order.
pub async fn r4_cancel_leaves_other_jobs_in_line(store: TestStore) {
    let h = Harness::new(store);
    let mut ids = Vec::new();
    for n in 0..4 {
        ids.push(h.p.add_job("echo", json!(n)).await.unwrap());
        h.advance(Duration::from_millis(1));
    }
    h.p.cancel_job(&ids[1]).await.unwrap();
    h.p.cancel_job(&ids[3]).await.unwrap();
    let first = h.p.pull_next_job().await.unwrap().expect("a job");
    let second = h.p.pull_next_job().await.unwrap().expect("a job");
    assert_eq!(first.id, ids[0]);
    assert_eq!(second.id, ids[2]);
    assert!(h.p.pull_next_job().await.unwrap().is_none());
}
