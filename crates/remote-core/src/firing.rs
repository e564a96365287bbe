//! The scheduler's firing: claims due scheduler items in batches, stores one job per
//! occurrence and takes the items (R15, R16, R25); and the scheduler worker's loop around it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info};

use crate::clock::add;
use crate::error::{Error, Result};
use crate::id::JobId;
use crate::job::JobOptions;
use crate::scheduler_item::SchedulerItem;
use crate::shared::Shared;
use crate::store::{ClaimItems, InsertJobs, Inserted, OnConflict, Take};

/// Most scheduler items fired in one round of claim, insert and take.
const FIRING_BATCH: usize = 512;

/// How long a firing scheduler holds the items it claimed; a scheduler that dies mid-round
/// delays them by at most this (R25).
pub const FIRING_LOCK: Duration = Duration::from_secs(1);

/// Shortest pause of the scheduler worker, so that a zero wait time never spins.
const MIN_WAIT: Duration = Duration::from_millis(10);
/// Longest pause after repeated store errors.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Takes the earliest due item: locks it for its `lock_duration` and advances its next call
/// time to the first firing after now (R15). It adds no job, so the item's misfire policy
/// (R34) is the caller's to apply.
pub(crate) async fn pull_next(shared: &Shared) -> Result<Option<SchedulerItem>> {
    let now = shared.now();
    let claimed = shared
        .items
        .claim_items(&ClaimItems {
            now,
            locked_until: add(now, FIRING_LOCK),
            limit: 1,
        })
        .await?;
    let Some(mut item) = claimed.into_iter().next() else {
        return Ok(None);
    };
    let Some(mut take) = take_of(&item, now) else {
        return Ok(None);
    };
    take.locked_until = Some(add(now, item.lock_duration));
    let taken = shared.items.take_items(std::slice::from_ref(&take)).await?;
    if taken.first() != Some(&true) {
        return Ok(None);
    }
    item.next_call_time = take.next_call_time;
    item.locked_until = take.locked_until;
    Ok(Some(item))
}

/// One scheduler pass: fires every due item; returns the number of occurrences fired, each
/// with its one job stored (several for an item whose misfire policy fires each missed one).
///
/// Due items are claimed in batches under a short lock ([`FIRING_LOCK`]), so concurrent
/// schedulers fire different items. Each occurrence's job is stored under the id
/// [`JobId::for_occurrence`] derives from the item and the occurrence, skipping an id that is
/// stored already, and the items are taken after. A scheduler that dies between the two leaves
/// its items locked for at most [`FIRING_LOCK`] and their jobs stored: whoever fires them next
/// finds the jobs there and only takes the items, so no occurrence is lost or added twice.
pub(crate) async fn fire_due_items(shared: &Shared) -> Result<usize> {
    let mut fired = 0;
    loop {
        let now = shared.now();
        let items = shared
            .items
            .claim_items(&ClaimItems {
                now,
                locked_until: add(now, FIRING_LOCK),
                limit: FIRING_BATCH,
            })
            .await?;
        let full = items.len() == FIRING_BATCH;
        fired += fire(shared, &items, now).await?;
        if !full {
            return Ok(fired);
        }
    }
}

/// Stores the occurrence jobs of claimed `items` and takes them; the number of occurrences
/// fired. Each item's misfire policy picks its occurrences (R34): their jobs go into one
/// `insert_jobs` call, before any item is taken, so a scheduler dying between the two leaves
/// every job of the round stored and the next one adds none twice.
async fn fire(shared: &Shared, items: &[SchedulerItem], now: DateTime<Utc>) -> Result<usize> {
    let mut jobs = Vec::with_capacity(items.len());
    let mut jobs_of = Vec::with_capacity(items.len());
    let mut takes = Vec::with_capacity(items.len());
    for item in items {
        let Some(take) = take_of(item, now) else {
            continue;
        };
        let occurrences =
            item.misfire
                .occurrences(&item.schedule, take.expected_next_call_time, now);
        if occurrences.is_empty() {
            debug!(
                item_id = %item.id,
                due = %take.expected_next_call_time,
                "scheduler item reached too late; its occurrence is skipped"
            );
        }
        let first = jobs.len();
        for at in occurrences {
            match shared.new_job(
                &item.job_name,
                Some(item.input.clone()),
                &JobOptions::default(),
                now,
            ) {
                Ok(mut job) => {
                    job.id = JobId::for_occurrence(&item.id, at);
                    jobs.push(job);
                }
                Err(Error::UnknownJob(name)) => {
                    error!(
                        item_id = %item.id,
                        job_name = %name,
                        "scheduler item cannot add an unknown job; it stays scheduled"
                    );
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        jobs_of.push(first..jobs.len());
        takes.push(take);
    }
    if takes.is_empty() {
        return Ok(0);
    }
    if !jobs.is_empty() {
        let inserted = shared
            .jobs
            .insert_jobs(&InsertJobs {
                jobs: &jobs,
                on_conflict: OnConflict::Skip,
            })
            .await?;
        if inserted.iter().any(Inserted::is_stored) {
            shared.job_added.notify_one();
        }
    }
    let taken = shared.items.take_items(&takes).await?;
    let mut fired = 0;
    for ((take, taken), range) in takes.iter().zip(taken).zip(jobs_of) {
        if !taken {
            continue;
        }
        for job in &jobs[range] {
            fired += 1;
            debug!(item_id = %take.id, job_id = %job.id, "scheduler item fired");
        }
    }
    Ok(fired)
}

/// The take of a claimed `item`'s due occurrence at `now`, unlocking it: next call time the
/// first firing after `now` (R15); `None` for an item without a next call time or lock.
fn take_of(item: &SchedulerItem, now: DateTime<Utc>) -> Option<Take> {
    Some(Take {
        id: item.id.clone(),
        expected_next_call_time: item.next_call_time?,
        expected_locked_until: item.locked_until?,
        next_call_time: item.schedule.next_after(now),
        locked_until: None,
    })
}

/// The scheduler worker: fires due items, then pauses `scheduler_wait_time` or until an item
/// is added here, until `stop` (R16).
pub(crate) async fn scheduler_worker(shared: Arc<Shared>, stop: CancellationToken) {
    let name = format!("{}-scheduler", shared.config.name);
    info!("Processor '{name}' started");
    let mut backoff = MIN_WAIT;
    loop {
        let pause = match fire_due_items(&shared).await {
            Ok(_) => {
                backoff = MIN_WAIT;
                shared.config.scheduler_wait_time.max(MIN_WAIT)
            }
            Err(e) => {
                error!(worker = %name, error = %e, retry_in = ?backoff, "cannot fire scheduler items");
                backoff = (backoff * 2).min(MAX_BACKOFF);
                backoff
            }
        };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = shared.item_added.notified() => {}
            () = stop.cancelled() => break,
        }
    }
    info!("Processor '{name}' stopped");
}
