//! The job worker (simple or multi) and the scheduler worker (R10–R12, R16).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::processor::{Inner, Processor, Slot};

/// Shortest pause of an idle worker, so that a zero wait time never spins.
const MIN_WAIT: Duration = Duration::from_millis(10);
/// Longest pause after repeated store errors.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How a job worker runs jobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkerKind {
    /// One job at a time, strictly in pull order (R11).
    Simple,
    /// Up to `max_threads` jobs at once (R12).
    Multi,
}

/// Settings of the job worker started by `start_processor`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerConfig {
    /// Simple or multi.
    pub kind: WorkerKind,
    /// Jobs run at once by a multi worker (default: the machine's CPU count).
    pub max_threads: usize,
    /// Pause when the queue is empty, cut short when a job is added (default 1 s).
    pub wait_time: Duration,
}

impl WorkerConfig {
    /// A simple worker.
    pub fn simple() -> Self {
        Self {
            kind: WorkerKind::Simple,
            max_threads: 1,
            wait_time: Duration::from_secs(1),
        }
    }

    /// A multi worker running up to `max_threads` jobs at once.
    pub fn multi(max_threads: usize) -> Self {
        Self {
            kind: WorkerKind::Multi,
            max_threads: max_threads.max(1),
            wait_time: Duration::from_secs(1),
        }
    }

    /// Sets the idle pause.
    pub fn wait_time(mut self, wait: Duration) -> Self {
        self.wait_time = wait;
        self
    }

    fn slots(&self) -> usize {
        match self.kind {
            WorkerKind::Simple => 1,
            WorkerKind::Multi => self.max_threads.max(1),
        }
    }
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self::multi(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }
}

/// Pauses for `wait`, or less when a job is added here or in another process, or on stop.
async fn idle(inner: &Inner, wait: Duration, stop: &CancellationToken) {
    let store_wakeups = inner.jobs.wakeups();
    let from_store = async {
        match &store_wakeups {
            Some(notify) => notify.notified().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = inner.job_added.notified() => {}
        () = from_store => {}
        () = tokio::time::sleep(wait.max(MIN_WAIT)) => {}
        () = stop.cancelled() => {}
    }
}

pub(crate) async fn job_worker(inner: Arc<Inner>, config: WorkerConfig, stop: CancellationToken) {
    let name = format!("{}-worker", inner.config.name);
    info!("Processor '{name}' started");
    let slots = Arc::new(Semaphore::new(config.slots()));
    let storing = Arc::new(Semaphore::new(2 * config.slots()));
    let mut tasks = JoinSet::new();
    let mut last_recovery: Option<Instant> = None;
    let mut backoff = MIN_WAIT;
    loop {
        let first = tokio::select! {
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = stop.cancelled() => break,
        };
        while tasks.try_join_next().is_some() {}
        if last_recovery.is_none_or(|t| t.elapsed() >= inner.config.recover_interval) {
            last_recovery = Some(Instant::now());
            if let Err(e) = inner.recover_expired().await {
                warn!("Processor '{name}' could not recover expired leases: {e}");
            }
        }
        match inner.claim(1 + slots.available_permits()).await {
            Ok(jobs) if !jobs.is_empty() => {
                backoff = MIN_WAIT;
                let mut first = Some(first);
                for job in jobs {
                    let Some(permit) = first
                        .take()
                        .or_else(|| slots.clone().try_acquire_owned().ok())
                    else {
                        error!("Processor '{name}' claimed more jobs than it has slots");
                        break;
                    };
                    if config.kind == WorkerKind::Multi {
                        info!("MultiJobWorker: processing job {}", job.id);
                    }
                    let inner = inner.clone();
                    let slot = Slot {
                        running: permit,
                        storing: storing.clone(),
                    };
                    tasks.spawn(async move {
                        if let Err(e) = inner.run_attempt(job, Some(slot)).await {
                            error!("job attempt could not be recorded: {e}");
                        }
                    });
                }
            }
            Ok(_) => {
                drop(first);
                idle(&inner, config.wait_time, &stop).await;
            }
            Err(e) => {
                drop(first);
                error!("Processor '{name}' cannot claim jobs, retrying in {backoff:?}: {e}");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = stop.cancelled() => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
    let drained = tokio::time::timeout(inner.config.grace, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        warn!(
            "Processor '{name}' stopped with {} jobs still running; they are signalled and left to lease recovery",
            tasks.len()
        );
        inner.cancel_running();
        tasks.detach_all();
    }
    info!("Processor '{name}' stopped");
}

pub(crate) async fn scheduler_worker(processor: Processor, stop: CancellationToken) {
    let name = processor.scheduler_name();
    info!("Processor '{name}' started");
    let mut backoff = MIN_WAIT;
    loop {
        let pause = match processor.fire_due_items().await {
            Ok(_) => {
                backoff = MIN_WAIT;
                processor.scheduler_wait_time().max(MIN_WAIT)
            }
            Err(e) => {
                error!(
                    "Processor '{name}' cannot fire scheduler items, retrying in {backoff:?}: {e}"
                );
                backoff = (backoff * 2).min(MAX_BACKOFF);
                backoff
            }
        };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = processor.item_added().notified() => {}
            () = stop.cancelled() => break,
        }
    }
    info!("Processor '{name}' stopped");
}
