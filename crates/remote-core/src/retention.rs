//! Retention: how long finished jobs are kept, and the pruning that removes older ones in
//! small batches (R33).

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::clock::add;
use crate::error::Result;
use crate::event::AttemptEvent;
use crate::job::optional_millis;
use crate::shared::Shared;
use crate::status::{JobStatus, StatusCounts};
use crate::store::{AcquireLeader, JobNames, RemoveJobs};

/// Jobs removed by one pruning call; small enough that no statement holds locks for long.
pub const PRUNE_BATCH: usize = 1000;

/// Shortest pause between two pruning batches, so that claims and completions get their turn.
pub const PRUNE_PAUSE: Duration = Duration::from_millis(50);

/// The pause after a batch lasts at least this many times as long as the batch took, so that
/// pruning keeps to a tenth of the database's time however slow a batch gets.
pub const PRUNE_PAUSE_FACTOR: u32 = 9;

/// The pause after a removal batch that took `took`: [`PRUNE_PAUSE`], or
/// [`PRUNE_PAUSE_FACTOR`] times `took` when that is longer.
pub fn prune_pause(took: Duration) -> Duration {
    PRUNE_PAUSE.max(took.saturating_mul(PRUNE_PAUSE_FACTOR))
}

/// Jobs pruning removes between two calls of the store's `reclaim_space`: deleted rows a
/// database keeps until a later pass slow every claim down until that pass runs.
pub const PRUNE_RECLAIM_EVERY: u64 = 100_000;

/// How long finished jobs are kept before pruning removes them, per final status; `None`
/// keeps them forever (R33).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Retention {
    /// Completed jobs (default 24 h).
    #[serde(with = "optional_millis")]
    pub completed: Option<Duration>,
    /// Cancelled jobs (default 7 days).
    #[serde(with = "optional_millis")]
    pub cancelled: Option<Duration>,
    /// Jobs that ended in `error` (default 7 days).
    #[serde(with = "optional_millis")]
    pub error: Option<Duration>,
}

const DAY: Duration = Duration::from_secs(24 * 3600);

impl Default for Retention {
    fn default() -> Self {
        Self {
            completed: Some(DAY),
            cancelled: Some(7 * DAY),
            error: Some(7 * DAY),
        }
    }
}

impl Retention {
    /// Keeps every finished job forever.
    pub fn forever() -> Self {
        Self {
            completed: None,
            cancelled: None,
            error: None,
        }
    }

    /// Sets how long completed jobs are kept (`None`: forever).
    pub fn completed(mut self, keep: Option<Duration>) -> Self {
        self.completed = keep;
        self
    }

    /// Sets how long cancelled jobs are kept (`None`: forever).
    pub fn cancelled(mut self, keep: Option<Duration>) -> Self {
        self.cancelled = keep;
        self
    }

    /// Sets how long jobs in `error` are kept (`None`: forever).
    pub fn error(mut self, keep: Option<Duration>) -> Self {
        self.error = keep;
        self
    }

    /// How long jobs with `status` are kept; `None` for forever or a status that is not final.
    pub fn keep(&self, status: JobStatus) -> Option<Duration> {
        match status {
            JobStatus::Completed => self.completed,
            JobStatus::Cancelled => self.cancelled,
            JobStatus::Error => self.error,
            JobStatus::Queued | JobStatus::Processing => None,
        }
    }

    /// True when nothing is ever pruned.
    pub fn is_forever(&self) -> bool {
        JobStatus::REMOVABLE.iter().all(|s| self.keep(*s).is_none())
    }
}

/// The time before which jobs kept for `keep` were finished long enough ago to go.
fn cutoff(now: DateTime<Utc>, keep: Duration) -> Option<DateTime<Utc>> {
    now.checked_sub_signed(TimeDelta::from_std(keep).ok()?)
}

/// Removes, in batches of [`PRUNE_BATCH`] with a pause between them, the finished jobs older
/// than their retention: the processor's `default` for names without their own, each
/// factory's own for its name. Returns the counts removed per status.
pub(crate) async fn prune(shared: &Shared, default: &Retention) -> Result<StatusCounts> {
    let now = shared.now();
    let overrides: Vec<(String, Retention)> = shared
        .factories()
        .iter()
        .filter_map(|f| f.info.retention.map(|r| (f.info.name.clone(), r)))
        .collect();
    let overridden: Vec<String> = overrides.iter().map(|(n, _)| n.clone()).collect();
    let mut passes: Vec<(JobNames<'_>, &Retention)> = vec![(
        if overridden.is_empty() {
            JobNames::All
        } else {
            JobNames::Except(&overridden)
        },
        default,
    )];
    for (i, (_, retention)) in overrides.iter().enumerate() {
        passes.push((JobNames::Only(&overridden[i..=i]), retention));
    }
    let mut removed = StatusCounts::new();
    for (names, retention) in passes {
        for status in JobStatus::REMOVABLE {
            let Some(before) = retention.keep(status).and_then(|keep| cutoff(now, keep)) else {
                continue;
            };
            let n = remove_in_batches(shared, &[status], names, Some(before)).await?;
            *removed.entry(status).or_insert(0) += n.values().sum::<u64>();
        }
    }
    Ok(removed)
}

/// Removes every job with `statuses` and one of `names` that finished before `before` (at
/// any time when `None`), in batches of [`PRUNE_BATCH`] with [`prune_pause`] between them, so
/// that no store call holds locks for long.
pub(crate) async fn remove_in_batches(
    shared: &Shared,
    statuses: &[JobStatus],
    names: JobNames<'_>,
    before: Option<DateTime<Utc>>,
) -> Result<StatusCounts> {
    let mut removed = StatusCounts::new();
    let mut unreclaimed = 0;
    loop {
        let started = tokio::time::Instant::now();
        let batch = shared
            .jobs
            .remove_jobs(&RemoveJobs {
                statuses,
                names,
                finished_before: before,
                limit: Some(PRUNE_BATCH),
            })
            .await?;
        let mut n = 0;
        for (status, count) in batch {
            *removed.entry(status).or_insert(0) += count;
            n += count;
        }
        unreclaimed += n;
        if unreclaimed >= PRUNE_RECLAIM_EVERY {
            unreclaimed = 0;
            if let Err(e) = shared.jobs.reclaim_space().await {
                warn!(error = %e, "reclaiming the space of pruned jobs failed; pruning goes on");
            }
        }
        if n < PRUNE_BATCH as u64 {
            return Ok(removed);
        }
        tokio::time::sleep(prune_pause(started.elapsed())).await;
    }
}

/// The name of the lease whose holder prunes (R33).
pub const PRUNE_LEADER: &str = "prune";

/// Prunes every `prune_interval` until `stop`, while this process holds the prune lease, so
/// one process at a time does it; the lease's note records when it last ran, how long it took
/// and what it removed.
pub(crate) async fn keep_pruning(shared: &Shared, stop: CancellationToken) {
    let config = &shared.config;
    if config.retention.is_forever() {
        return;
    }
    let every = config.prune_interval.max(Duration::from_millis(10));
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        if let Err(e) = prune_as_leader(shared, every).await {
            warn!(error = %e, "pruning failed; trying again next interval");
        }
    }
}

async fn prune_as_leader(shared: &Shared, every: Duration) -> Result<()> {
    if !bid(shared, every, None).await? {
        return Ok(());
    }
    let started = shared.now();
    let clock = std::time::Instant::now();
    let removed = prune(shared, &shared.config.retention).await?;
    let note = json!({
        "last_run": started,
        "took_ms": u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX),
        "removed": removed,
    });
    bid(shared, every, Some(&note)).await?;
    if removed.values().sum::<u64>() > 0 {
        info!(?removed, "pruned finished jobs");
    }
    shared.emit(AttemptEvent::Pruned { removed });
    Ok(())
}

/// Bids for (or renews) the prune lease for three intervals, writing `note` when given.
async fn bid(shared: &Shared, every: Duration, note: Option<&Value>) -> Result<bool> {
    let now = shared.now();
    shared
        .jobs
        .acquire_leader(&AcquireLeader {
            name: PRUNE_LEADER,
            holder: shared.instance(),
            until: add(now, 3 * every),
            now,
            note,
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pause_after_a_batch_grows_with_the_batch_and_never_drops_below_the_floor() {
        assert_eq!(prune_pause(Duration::ZERO), PRUNE_PAUSE);
        assert_eq!(prune_pause(Duration::from_millis(2)), PRUNE_PAUSE);
        assert_eq!(
            prune_pause(Duration::from_millis(20)),
            Duration::from_millis(180)
        );
        assert_eq!(
            prune_pause(Duration::from_millis(500)),
            Duration::from_millis(4_500)
        );
        assert_eq!(prune_pause(Duration::MAX), Duration::MAX);
    }
}
