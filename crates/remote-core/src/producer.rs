//! The producer: claims jobs for one worker and hands each to an executor when a slot is free
//! (R2, R11, R12, R24).
//!
//! It keeps a local buffer of claimed jobs, up to the worker's free slots plus its prefetch,
//! and claims again when the buffer runs low, so that one round trip serves many jobs. The
//! prefetch adapts: it doubles (up to the worker's `max_prefetch`) when a full claim started
//! by a busy worker lands to free slots and an empty buffer, shrinks when it did not, and
//! falls back to the worker's `prefetch` when a claim came back short — the queue is drained
//! for now, and the next claim waits for a wake-up or the worker's wait time. When few slots
//! are free, a short fetch cooldown lets others free up so they are claimed together. It also
//! runs the rescuer every `recover_interval`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::{error, warn};

use crate::completer::{Completer, Pending};
use crate::error::{Error, Result};
use crate::executor::execute;
use crate::job::Job;
use crate::outcome::outcome_of;
use crate::rescuer::rescue_expired;
use crate::shared::Shared;
use crate::store::{Lease, OutcomeKind};

/// Shortest pause of an idle worker, so that a zero wait time never spins.
const MIN_WAIT: Duration = Duration::from_millis(10);
/// Longest pause after repeated store errors.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Least time between two claims that would each fill only a few slots.
const FETCH_COOLDOWN: Duration = Duration::from_millis(2);

/// What a producer needs to know of its worker's settings.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Settings {
    /// Attempts run at once.
    pub(crate) concurrency: usize,
    /// Jobs claimed beyond the free slots, at least.
    pub(crate) prefetch: usize,
    /// Jobs claimed beyond the free slots, at most.
    pub(crate) max_prefetch: usize,
    /// One job at a time in pull order: a retried job sends the buffer back (R11).
    pub(crate) in_order: bool,
    /// Pause when the queue is empty.
    pub(crate) wait_time: Duration,
}

/// A claimed job waiting in the buffer, and the signal that drops it (cancel or lost lease).
struct Waiting {
    job: Job,
    lease: Lease,
    cancel: CancellationToken,
}

/// How many jobs a producer claims beyond its free slots now, between the worker's
/// `prefetch` and `max_prefetch` (R24).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Prefetch {
    floor: usize,
    ceiling: usize,
    now: usize,
}

impl Prefetch {
    fn new(settings: &Settings) -> Self {
        Self {
            floor: settings.prefetch,
            ceiling: settings.max_prefetch.max(settings.prefetch),
            now: settings.prefetch,
        }
    }

    /// Buffered jobs at or below which the producer claims again.
    fn low_water(&self) -> usize {
        self.now.div_ceil(2)
    }

    /// Adapts to a claim: `full` when it brought every job asked for, `ran_dry` when the
    /// worker was busy as it started and has free slots and nothing buffered as it lands.
    fn claimed(&mut self, full: bool, ran_dry: bool) {
        self.now = if !full {
            self.floor
        } else if ran_dry {
            self.now.saturating_mul(2).max(1).min(self.ceiling)
        } else {
            (self.now - self.now / 4).max(self.floor)
        };
    }
}

/// A claim under way: its task, how many jobs it asked for, and whether the worker was busy
/// (jobs running or buffered) when it started, rather than starting up or back from idle.
struct InFlight {
    task: tokio::task::JoinHandle<Result<Vec<Job>>>,
    want: usize,
    busy: bool,
}

/// The claiming side of one job worker.
pub(crate) struct Producer {
    shared: Arc<Shared>,
    settings: Settings,
    completer: Completer,
    slots: Arc<Semaphore>,
    buffer: VecDeque<Waiting>,
    /// Set by a simple worker's attempt that was retried: the jobs held behind it are given
    /// back and claimed again, so the retried job keeps its place in pull order (R11).
    reorder: Arc<AtomicBool>,
}

impl Producer {
    pub(crate) fn new(shared: Arc<Shared>, settings: Settings, completer: Completer) -> Self {
        let settings = Settings {
            concurrency: settings.concurrency.max(1),
            ..settings
        };
        Self {
            shared,
            slots: Arc::new(Semaphore::new(settings.concurrency)),
            settings,
            completer,
            buffer: VecDeque::new(),
            reorder: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Attempts running now.
    pub(crate) fn running(&self) -> usize {
        self.settings.concurrency - self.slots.available_permits()
    }

    /// Whether slots are free and no claimed job waits for them.
    fn idle_slots(&self) -> bool {
        self.buffer.iter().all(|w| w.cancel.is_cancelled()) && self.slots.available_permits() > 0
    }

    /// Claims and dispatches until `stop`. A multi worker's claim runs on its own task, so
    /// that buffered jobs keep starting while it is under way; a simple worker waits for it.
    pub(crate) async fn run(&mut self, stop: &CancellationToken) {
        let mut prefetch = Prefetch::new(&self.settings);
        let store_wakeups = self.shared.jobs.wakeups();
        let mut last_rescue: Option<Instant> = None;
        let mut last_paused: Option<Instant> = None;
        let mut last_claim: Option<Instant> = None;
        let mut claiming: Option<InFlight> = None;
        let mut drained = false;
        let mut backoff = MIN_WAIT;
        while !stop.is_cancelled() {
            if last_paused.is_none_or(|t| t.elapsed() >= self.settings.wait_time) {
                last_paused = Some(Instant::now());
                if let Err(e) = self.shared.refresh_paused().await {
                    warn!(error = %e, "cannot read the paused job names");
                }
            }
            if last_rescue.is_none_or(|t| t.elapsed() >= self.shared.config.recover_interval) {
                last_rescue = Some(Instant::now());
                if let Err(e) = rescue_expired(&self.shared).await {
                    warn!(error = %e, "cannot recover expired leases");
                }
            }
            if self.reorder.swap(false, Ordering::AcqRel) {
                if let Some(flight) = claiming.take() {
                    self.finish_claim(flight, &mut prefetch).await;
                }
                self.release_held().await;
                drained = false;
            }
            let capacity = self.settings.concurrency + prefetch.now;
            let held = self.running() + self.buffer.len();
            let want = capacity.saturating_sub(held);
            if claiming.is_none()
                && want > 0
                && self.buffer.len() <= prefetch.low_water()
                && (!drained || self.buffer.is_empty())
            {
                let cooling = self.buffer.is_empty() && self.running() > 0 && want < capacity / 2;
                if let Some(wait) = last_claim
                    .filter(|_| cooling)
                    .and_then(|t| FETCH_COOLDOWN.checked_sub(t.elapsed()))
                {
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = stop.cancelled() => break,
                    }
                    continue;
                }
                last_claim = Some(Instant::now());
                claiming = Some(self.start_claim(want));
            }

            if let Some(flight) = claiming.as_mut() {
                let wait_for_it = self.buffer.is_empty() || self.settings.in_order;
                let landed = if wait_for_it {
                    Some((&mut flight.task).await)
                } else {
                    tokio::select! {
                        landed = &mut flight.task => Some(landed),
                        permit = self.slots.clone().acquire_owned() => {
                            let Ok(permit) = permit else { break };
                            self.dispatch_next(permit);
                            None
                        }
                        () = stop.cancelled() => break,
                    }
                };
                let Some(landed) = landed else { continue };
                let flight = claiming.take().expect("a claim under way");
                match self.land(landed, &flight, &mut prefetch) {
                    Ok(short) => {
                        drained = short;
                        backoff = MIN_WAIT;
                    }
                    Err(e) => {
                        error!(error = %e, retry_in = ?backoff, "cannot claim jobs");
                        tokio::select! {
                            () = tokio::time::sleep(backoff) => {}
                            () = stop.cancelled() => break,
                        }
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                        continue;
                    }
                }
            }

            let capacity = self.settings.concurrency + prefetch.now;
            let held = self.running() + self.buffer.len();
            if self.buffer.is_empty() {
                if held >= capacity {
                    tokio::select! {
                        permit = self.slots.acquire() => drop(permit),
                        () = stop.cancelled() => break,
                    }
                } else {
                    self.idle(store_wakeups.as_deref(), stop).await;
                    drained = false;
                }
                continue;
            }

            let wake = async {
                if drained {
                    wakeup(&self.shared, store_wakeups.as_deref()).await;
                } else {
                    std::future::pending::<()>().await;
                }
            };
            let permit = tokio::select! {
                permit = self.slots.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
                () = wake => {
                    drained = false;
                    continue;
                }
                () = stop.cancelled() => break,
            };
            if self.reorder.load(Ordering::Acquire) {
                continue;
            }
            self.dispatch_next(permit);
        }
        if let Some(flight) = claiming.take() {
            self.finish_claim(flight, &mut prefetch).await;
        }
    }

    /// Waits for a claim under way and buffers its jobs, so that they are released with the
    /// others rather than left to lease recovery.
    async fn finish_claim(&mut self, mut flight: InFlight, prefetch: &mut Prefetch) {
        let landed = (&mut flight.task).await;
        if let Err(e) = self.land(landed, &flight, prefetch) {
            error!(error = %e, "cannot claim jobs");
        }
    }

    /// Starts claiming up to `want` jobs on a task of its own.
    fn start_claim(&self, want: usize) -> InFlight {
        let shared = self.shared.clone();
        InFlight {
            task: tokio::spawn(async move { shared.claim(want).await }),
            want,
            busy: !self.buffer.is_empty() || self.running() > 0,
        }
    }

    /// Takes a finished claim's jobs into the buffer and adapts the prefetch to it; whether
    /// it came back short (the queue is drained for now).
    fn land(
        &mut self,
        landed: std::result::Result<Result<Vec<Job>>, tokio::task::JoinError>,
        flight: &InFlight,
        prefetch: &mut Prefetch,
    ) -> Result<bool> {
        let jobs =
            landed.map_err(|e| Error::store_msg(format!("the claim task failed: {e}")))??;
        let short = jobs.len() < flight.want;
        let ran_dry = flight.busy && self.idle_slots();
        prefetch.claimed(!short, ran_dry);
        self.buffer_claimed(jobs);
        Ok(short)
    }

    /// Puts claimed jobs in the buffer, held by this processor; a job it holds already (run
    /// by hand at the same time) is left to lease recovery.
    fn buffer_claimed(&mut self, jobs: Vec<Job>) {
        for job in jobs {
            let Some(token) = job.lease_token else {
                error!(job_id = %job.id, "the store returned a claimed job without a lease token");
                continue;
            };
            let Some(cancel) = self.shared.hold(&job, false) else {
                warn!(job_id = %job.id, "claimed a job this processor runs already");
                continue;
            };
            let lease = Lease {
                id: job.id.clone(),
                token,
            };
            self.buffer.push_back(Waiting { job, lease, cancel });
        }
    }

    /// The next buffered job to run, passing over those cancelled or whose lease was lost.
    fn next_waiting(&mut self) -> Option<Waiting> {
        while let Some(waiting) = self.buffer.pop_front() {
            if !waiting.cancel.is_cancelled() {
                return Some(waiting);
            }
            self.shared.unhold(&waiting.lease);
        }
        None
    }

    /// Starts the next buffered job, if any is left, on the slot `permit` holds.
    fn dispatch_next(&mut self, permit: OwnedSemaphorePermit) {
        if let Some(waiting) = self.next_waiting() {
            self.dispatch(waiting, permit);
        }
    }

    /// Waits for the worker's wait time, a job added here or elsewhere, or `stop`.
    async fn idle(&self, store_wakeups: Option<&tokio::sync::Notify>, stop: &CancellationToken) {
        tokio::select! {
            () = wakeup(&self.shared, store_wakeups) => {}
            () = tokio::time::sleep(self.settings.wait_time.max(MIN_WAIT)) => {}
            () = stop.cancelled() => {}
        }
    }

    /// Starts `waiting`'s attempt on an executor task holding `permit`.
    fn dispatch(&mut self, waiting: Waiting, permit: OwnedSemaphorePermit) {
        let shared = self.shared.clone();
        let completer = self.completer.clone();
        let reorder = self.settings.in_order.then(|| self.reorder.clone());
        tokio::spawn(async move {
            attempt(&shared, &completer, waiting, reorder.as_deref()).await;
            drop(permit);
        });
    }

    /// Hands every buffered job back to the queue as if never claimed (R23).
    pub(crate) async fn release_held(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        let waiting: Vec<Waiting> = self.buffer.drain(..).collect();
        let leases: Vec<Lease> = waiting.iter().map(|w| w.lease.clone()).collect();
        match self
            .shared
            .with_retries(|| self.shared.jobs.release_jobs(&leases))
            .await
        {
            Ok(_) => {}
            Err(e) => {
                warn!(error = %e, jobs = leases.len(), "cannot release held jobs; they are left to lease recovery");
            }
        }
        for lease in &leases {
            self.shared.unhold(lease);
        }
        self.shared.job_added.notify_one();
    }

    /// Waits for every running attempt to end: each gives its slot back when it did.
    pub(crate) async fn drain(&self) {
        let all = u32::try_from(self.settings.concurrency).unwrap_or(u32::MAX);
        let _ = self.slots.acquire_many(all).await;
    }
}

/// Resolves when a job was added in this process, or another process where the store can tell.
async fn wakeup(shared: &Shared, store_wakeups: Option<&tokio::sync::Notify>) {
    match store_wakeups {
        Some(notify) => tokio::select! {
            () = shared.job_added.notified() => {}
            () = notify.notified() => {}
        },
        None => shared.job_added.notified().await,
    }
}

/// Runs one attempt and hands its outcome to the completer. A completion frees the slot at
/// once; a failure keeps it until stored, so a retried job is back in the queue before a
/// simple worker pulls again (R11) — and a simple worker then gives back what it holds.
async fn attempt(
    shared: &Shared,
    completer: &Completer,
    waiting: Waiting,
    reorder: Option<&AtomicBool>,
) {
    let Waiting {
        mut job,
        lease,
        cancel,
    } = waiting;
    shared.mark_running(&lease);
    let ran = execute(shared, &mut job, cancel).await;
    let outcome = outcome_of(&job, lease.token, ran.ended, ran.max_snoozes, shared.now());
    let retried = matches!(outcome.kind, OutcomeKind::Retry { .. });
    let completed = matches!(outcome.kind, OutcomeKind::Completed { .. });
    if let OutcomeKind::Retry { record, .. } | OutcomeKind::Failed { record } = &outcome.kind {
        warn!(job_id = %job.id, attempt = job.attempt, error = %record.message, "attempt failed");
    }
    let pending = Pending {
        outcome,
        job_name: job.job_name,
        attempt: job.attempt,
        run_time: ran.run_time,
        reply: None,
    };
    if completed {
        completer.send(pending).await;
        shared.unhold(&lease);
        return;
    }
    let stored = completer.store(pending).await;
    shared.unhold(&lease);
    match stored {
        Ok(_) if retried => {
            if let Some(reorder) = reorder {
                reorder.store(true, Ordering::Release);
            }
        }
        Ok(_) => {}
        Err(e) => error!(job_id = %job.id, error = %e, "attempt outcome could not be stored"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefetch(floor: usize, ceiling: usize) -> Prefetch {
        Prefetch::new(&Settings {
            concurrency: 8,
            prefetch: floor,
            max_prefetch: ceiling,
            in_order: false,
            wait_time: Duration::from_secs(1),
        })
    }

    #[test]
    fn prefetch_doubles_up_to_its_ceiling_while_full_claims_leave_slots_dry() {
        let mut p = prefetch(8, 40);
        let mut seen = Vec::new();
        for _ in 0..4 {
            p.claimed(true, true);
            seen.push(p.now);
        }
        assert_eq!(seen, [16, 32, 40, 40]);
    }

    #[test]
    fn prefetch_shrinks_by_a_quarter_when_slots_stay_fed_and_never_below_its_floor() {
        let mut p = prefetch(8, 64);
        p.now = 64;
        let mut seen = Vec::new();
        for _ in 0..8 {
            p.claimed(true, false);
            seen.push(p.now);
        }
        assert_eq!(seen, [48, 36, 27, 21, 16, 12, 9, 8]);
    }

    #[test]
    fn prefetch_falls_back_to_its_floor_when_a_claim_comes_back_short() {
        let mut p = prefetch(4, 64);
        p.now = 64;
        p.claimed(false, true);
        assert_eq!(p.now, 4);
    }

    #[test]
    fn a_fixed_prefetch_never_moves() {
        for floor in [0, 3] {
            let mut p = prefetch(floor, floor);
            for (full, dry) in [(true, true), (true, false), (false, true)] {
                p.claimed(full, dry);
                assert_eq!(p.now, floor);
            }
        }
    }

    #[test]
    fn a_prefetch_from_nothing_grows_from_one() {
        let mut p = prefetch(0, 10);
        p.claimed(true, true);
        assert_eq!(p.now, 1);
        p.claimed(true, true);
        assert_eq!(p.now, 2);
    }

    #[test]
    fn the_buffer_is_refilled_at_half_the_prefetch_rounded_up() {
        assert_eq!(
            [0, 1, 2, 3, 8].map(|n| {
                let mut p = prefetch(n, n);
                p.now = n;
                p.low_water()
            }),
            [0, 1, 1, 2, 4]
        );
    }
}
