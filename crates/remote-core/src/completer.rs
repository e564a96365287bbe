//! The completer: collects the outcomes of a worker's attempts and stores them in batches,
//! one `record_outcomes` call per batch (R3, R9).
//!
//! It stores whatever is waiting as soon as a call slot is free, so a lone outcome waits for
//! nothing while concurrent ones share round trips and commits (group commit). At most
//! [`MAX_FLUSHES`] calls are in flight; when the store falls behind, outcomes queue in a
//! bounded channel and the executors wait to hand theirs over (backpressure). After a batch
//! it reports each attempt's end to event listeners and to whoever waits for it.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinSet;
use tracing::{debug, error, info};

use crate::error::{Error, Result};
use crate::event::{AttemptEvent, AttemptOutcome};
use crate::outcome::applied;
use crate::shared::Shared;
use crate::status::JobStatus;
use crate::store::Outcome;

/// Most outcomes stored in one call.
pub(crate) const MAX_BATCH: usize = 512;

/// Most store calls of one completer in flight at once: two, so that a batch gathers while
/// another is stored. More split the same outcomes into smaller batches, each a statement and
/// a commit of its own: with four, PostgreSQL drains ran 5–37 % slower than with two.
const MAX_FLUSHES: usize = 2;

/// Outcomes waiting to be handed over before executors wait.
const CHANNEL: usize = 4 * MAX_BATCH;

/// The status a job has after its outcome was stored or dropped.
pub(crate) type Stored = Result<JobStatus, String>;

/// An outcome to store, with what its event needs and who waits for the answer.
pub(crate) struct Pending {
    pub(crate) outcome: Outcome,
    pub(crate) job_name: String,
    pub(crate) attempt: u32,
    pub(crate) run_time: Duration,
    pub(crate) reply: Option<oneshot::Sender<Stored>>,
}

/// The sending side of a completer; dropping every handle lets it finish what it holds.
#[derive(Clone)]
pub(crate) struct Completer {
    tx: mpsc::Sender<Pending>,
}

impl Completer {
    /// Starts a completer task over `shared`'s job store.
    pub(crate) fn start(shared: Arc<Shared>) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(CHANNEL);
        (Self { tx }, tokio::spawn(run(shared, rx)))
    }

    /// Hands an outcome over, waiting while the completer is full.
    pub(crate) async fn send(&self, pending: Pending) {
        if let Err(mpsc::error::SendError(pending)) = self.tx.send(pending).await {
            if let Some(reply) = pending.reply {
                let _ = reply.send(Err("the completer stopped".into()));
            }
        }
    }

    /// Hands an outcome over and waits until it was stored; the job's status after it.
    pub(crate) async fn store(&self, mut pending: Pending) -> Result<JobStatus> {
        let (tx, rx) = oneshot::channel();
        pending.reply = Some(tx);
        self.send(pending).await;
        answer(rx).await
    }
}

async fn run(shared: Arc<Shared>, mut rx: mpsc::Receiver<Pending>) {
    let calls = Arc::new(Semaphore::new(MAX_FLUSHES));
    let mut flushes = JoinSet::new();
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        let Ok(permit) = calls.clone().acquire_owned().await else {
            break;
        };
        while flushes.try_join_next().is_some() {}
        if rx.recv_many(&mut batch, MAX_BATCH).await == 0 {
            break;
        }
        let shared = shared.clone();
        let taken = std::mem::replace(&mut batch, Vec::with_capacity(MAX_BATCH));
        flushes.spawn(async move {
            flush(&shared, taken).await;
            drop(permit);
        });
    }
    while flushes.join_next().await.is_some() {}
}

/// What reporting an outcome needs besides the outcome itself.
struct Report {
    job_name: String,
    attempt: u32,
    run_time: Duration,
    reply: Option<oneshot::Sender<Stored>>,
}

/// Stores one batch and reports each outcome.
async fn flush(shared: &Shared, batch: Vec<Pending>) {
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut reports = Vec::with_capacity(batch.len());
    for pending in batch {
        outcomes.push(pending.outcome);
        reports.push(Report {
            job_name: pending.job_name,
            attempt: pending.attempt,
            run_time: pending.run_time,
            reply: pending.reply,
        });
    }
    let answer = match shared
        .with_retries(|| shared.jobs.record_outcomes(&outcomes))
        .await
    {
        Ok(applied) if applied.len() == outcomes.len() => Ok(applied),
        Ok(applied) => Err(format!(
            "the store answered {} of {} outcomes",
            applied.len(),
            outcomes.len()
        )),
        Err(e) => Err(crate::error::error_chain(&e)),
    };
    match answer {
        Ok(applied_flags) => {
            for ((outcome, report_to), was_applied) in
                outcomes.iter().zip(reports).zip(applied_flags)
            {
                report(shared, outcome, report_to, was_applied).await;
            }
        }
        Err(message) => {
            error!(error = %message, outcomes = outcomes.len(), "attempt outcomes could not be stored; their leases will expire and the jobs be recovered (R8)");
            for report_to in reports {
                if let Some(reply) = report_to.reply {
                    let _ = reply.send(Err(message.clone()));
                }
            }
        }
    }
}

/// Reports one stored (or refused) outcome to listeners and its waiter.
async fn report(shared: &Shared, outcome: &Outcome, to: Report, was_applied: bool) {
    let id = &outcome.lease.id;
    let (event_outcome, status) = if was_applied {
        applied(&outcome.kind)
    } else {
        match shared.jobs.get_job(id).await {
            Ok(Some(job)) => {
                info!(job_id = %id, attempt = to.attempt, status = %job.status, "attempt outcome dropped: the job moved on");
                (AttemptOutcome::Dropped(job.status), job.status)
            }
            Ok(None) => {
                if let Some(reply) = to.reply {
                    let _ = reply.send(Err(format!("job {id} not found")));
                }
                return;
            }
            Err(e) => {
                if let Some(reply) = to.reply {
                    let _ = reply.send(Err(crate::error::error_chain(&e)));
                }
                return;
            }
        }
    };
    debug!(job_id = %id, attempt = to.attempt, outcome = ?event_outcome, "attempt ended");
    shared.emit(AttemptEvent::Finished {
        job_id: id.clone(),
        job_name: to.job_name,
        attempt: to.attempt,
        run_time: to.run_time,
        outcome: event_outcome,
    });
    if let Some(reply) = to.reply {
        let _ = reply.send(Ok(status));
    }
}

/// Stores one outcome now, outside any worker (manual processing, R13), and reports it as a
/// batch of one; the job's status after it.
pub(crate) async fn store_now(shared: &Shared, mut pending: Pending) -> Result<JobStatus> {
    let (tx, rx) = oneshot::channel();
    pending.reply = Some(tx);
    flush(shared, vec![pending]).await;
    answer(rx).await
}

/// The status a waiter was told, or the error it was told instead.
async fn answer(rx: oneshot::Receiver<Stored>) -> Result<JobStatus> {
    match rx.await {
        Ok(Ok(status)) => Ok(status),
        Ok(Err(message)) => Err(Error::store_msg(message)),
        Err(_) => Err(Error::store_msg("the outcome was not stored")),
    }
}
