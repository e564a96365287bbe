//! The store contract: atomic state changes that take `now`, and nothing else.
//!
//! Retry decisions, lease lengths and schedule math are computed in this crate and handed to
//! the store as plain values; a store only applies them atomically. Every method takes one
//! parameter value and is one atomic change or one read; the batched methods answer, in the
//! order of their entries, whether each entry applied. The rules cited (R1…) are those of the
//! contract document, `docs/contract.md`.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::Notify;

use crate::error::Result;
use crate::error_record::ErrorRecord;
use crate::id::{ItemId, JobId, LeaseToken};
use crate::job::{Job, JobQuery};
use crate::scheduler_item::SchedulerItem;
use crate::status::{JobStatus, StatusCounts};

/// What inserting one job did, one answer of [`JobStore::insert_jobs`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inserted {
    /// The job was stored.
    Stored,
    /// A job of this id is stored already; nothing changed ([`OnConflict::Skip`]).
    Skipped,
    /// A stored job (or an earlier one of the same call) holds the job's unique key in one of
    /// the job's `unique_across` statuses: nothing was stored, and this is that job's id (R27).
    Duplicate(JobId),
}

impl Inserted {
    /// True when the job was stored.
    pub fn is_stored(&self) -> bool {
        matches!(self, Inserted::Stored)
    }
}

/// What to do when a job to insert has the id of a stored job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnConflict {
    /// Refuse the call with [`Error::JobExists`](crate::Error::JobExists); the stored job is
    /// unchanged.
    Refuse,
    /// Keep the stored job and insert the others; the answer says which were inserted.
    Skip,
}

/// New jobs to store, as [`JobStore::insert_jobs`] takes them (R1).
#[derive(Clone, Copy, Debug)]
pub struct InsertJobs<'a> {
    /// The jobs, each as it is to be stored.
    pub jobs: &'a [Job],
    /// What an id that is stored already does.
    pub on_conflict: OnConflict,
}

/// What a worker asks for when it claims jobs (R2).
#[derive(Clone, Copy, Debug)]
pub struct ClaimJobs<'a> {
    /// Only jobs with one of these names; none match an empty list.
    pub names: &'a [String],
    /// Current time: jobs with `not_before > now` are not due.
    pub now: DateTime<Utc>,
    /// Lease end written on each claimed job.
    pub lease_until: DateTime<Utc>,
    /// Fencing token written on each claimed job.
    pub token: LeaseToken,
    /// Most jobs to claim.
    pub limit: usize,
}

/// One claimed attempt, named by its job and the token of its claim.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Lease {
    /// The job.
    pub id: JobId,
    /// The fencing token of the attempt.
    pub token: LeaseToken,
}

/// How an attempt ends, as decided by the processor (R3).
#[derive(Clone, Debug, PartialEq)]
pub enum OutcomeKind {
    /// The handler returned output: `completed`, `output` stored.
    Completed {
        /// The handler's output.
        output: Value,
    },
    /// The attempt failed and the job gets another: the record is appended and the job goes
    /// back to `queued`, not pulled before `not_before`, keeping its `queued_at`.
    Retry {
        /// The record to append.
        record: ErrorRecord,
        /// When the job may be pulled again.
        not_before: DateTime<Utc>,
    },
    /// The attempt failed for good: the record is appended and the job ends in `error`.
    Failed {
        /// The record to append.
        record: ErrorRecord,
    },
    /// The handler asked to run again later (R29): the job goes back to `queued`, not pulled
    /// before `not_before`, `attempt - 1` (a snooze uses up no attempt), `snoozes + 1`; no
    /// record.
    Snooze {
        /// When the job may be pulled again.
        not_before: DateTime<Utc>,
    },
}

/// The end of one attempt, one entry of [`JobStore::record_outcomes`] and
/// [`JobStore::rescue_jobs`].
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// The attempt.
    pub lease: Lease,
    /// Current time: written as `completed_at` when the job reaches a final status.
    pub now: DateTime<Utc>,
    /// How it ends.
    pub kind: OutcomeKind,
}

/// Leases to extend, as [`JobStore::renew_leases`] takes them (R8).
#[derive(Clone, Copy, Debug)]
pub struct RenewLeases<'a> {
    /// The attempts whose leases to extend.
    pub leases: &'a [Lease],
    /// The new end of each lease.
    pub lease_until: DateTime<Utc>,
}

/// Which expired leases [`JobStore::expired_leases`] reads (R8).
#[derive(Clone, Copy, Debug)]
pub struct ExpiredLeases {
    /// Current time: leases that ended at or before it have expired.
    pub now: DateTime<Utc>,
    /// Most jobs to return.
    pub limit: usize,
}

/// A cancel, as [`JobStore::cancel_job`] takes it (R4).
#[derive(Clone, Copy, Debug)]
pub struct CancelJob<'a> {
    /// The job.
    pub id: &'a JobId,
    /// The statuses from which the job is cancelled; in any other it is left unchanged.
    pub cancellable: &'a [JobStatus],
    /// Current time, written as `completed_at`.
    pub now: DateTime<Utc>,
}

/// Which job names a call applies to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum JobNames<'a> {
    /// Every name.
    #[default]
    All,
    /// Only these names.
    Only(&'a [String]),
    /// Every name but these.
    Except(&'a [String]),
}

impl JobNames<'_> {
    /// True when `name` is selected.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            JobNames::All => true,
            JobNames::Only(names) => names.iter().any(|n| n == name),
            JobNames::Except(names) => !names.iter().any(|n| n == name),
        }
    }
}

/// Which jobs [`JobStore::remove_jobs`] deletes (R6, R33).
#[derive(Clone, Copy, Debug)]
pub struct RemoveJobs<'a> {
    /// Only jobs with one of these statuses (always final statuses).
    pub statuses: &'a [JobStatus],
    /// Only jobs of these names.
    pub names: JobNames<'a>,
    /// Only jobs that reached their status before this time (`completed_at < t`); all when
    /// `None`.
    pub finished_before: Option<DateTime<Utc>>,
    /// Most jobs to delete in this call, oldest `completed_at` first; all when `None`.
    pub limit: Option<usize>,
}

/// Which finished jobs [`JobStore::retry_jobs`] puts back in the queue (R30).
#[derive(Clone, Copy, Debug)]
pub struct RetryJobs<'a> {
    /// Only these jobs; all that match the other filters when `None`.
    pub ids: Option<&'a [JobId]>,
    /// Only jobs with one of these statuses (`error`, `cancelled`).
    pub statuses: &'a [JobStatus],
    /// Only jobs of these names.
    pub names: JobNames<'a>,
    /// Current time.
    pub now: DateTime<Utc>,
}

/// Pauses or resumes job names, as [`JobStore::pause_names`] takes it (R31).
#[derive(Clone, Copy, Debug)]
pub struct PauseNames<'a> {
    /// The names.
    pub names: &'a [String],
    /// `true` pauses them, `false` resumes them.
    pub paused: bool,
    /// Current time, written as the time a name was paused.
    pub now: DateTime<Utc>,
}

/// A paused job name, as [`JobStore::paused_names`] lists it (R31).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PausedName {
    /// The name.
    pub name: String,
    /// When it was paused.
    pub since: DateTime<Utc>,
}

/// A bid for a named lease that one process holds at a time, for maintenance such as pruning
/// (R33), as [`JobStore::acquire_leader`] takes it.
#[derive(Clone, Copy, Debug)]
pub struct AcquireLeader<'a> {
    /// The lease's name.
    pub name: &'a str,
    /// Who bids: a name unique to one process.
    pub holder: &'a str,
    /// The end of the lease when won.
    pub until: DateTime<Utc>,
    /// Current time: a lease that ended at or before it is free.
    pub now: DateTime<Utc>,
    /// A note to store with the lease when won (what the holder last did); kept when `None`.
    pub note: Option<&'a Value>,
}

/// A named lease as [`JobStore::leaders`] lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct Leader {
    /// The lease's name.
    pub name: String,
    /// Who holds (or last held) it.
    pub holder: String,
    /// When it ends.
    pub until: DateTime<Utc>,
    /// The holder's note (`null` when none was written).
    pub note: Value,
}

/// Which scheduler items [`SchedulerStore::claim_items`] locks (R15).
#[derive(Clone, Copy, Debug)]
pub struct ClaimItems {
    /// Current time: items due and unlocked at `now` are claimed.
    pub now: DateTime<Utc>,
    /// The lock written on each claimed item (its `locked_until`).
    pub locked_until: DateTime<Utc>,
    /// Most items to claim.
    pub limit: usize,
}

/// A conditional take of a claimed scheduler item, one entry of [`SchedulerStore::take_items`]
/// (R15).
#[derive(Clone, Debug, PartialEq)]
pub struct Take {
    /// The item.
    pub id: ItemId,
    /// The `next_call_time` the caller read; the take fails if it changed.
    pub expected_next_call_time: DateTime<Utc>,
    /// The lock the caller's claim wrote; the take fails if it changed.
    pub expected_locked_until: DateTime<Utc>,
    /// The next call time to store (`None`: never again).
    pub next_call_time: Option<DateTime<Utc>>,
    /// The lock to store (`None`: unlocked).
    pub locked_until: Option<DateTime<Utc>>,
}

/// Storage of jobs and their error records.
///
/// Methods naming a [`Lease`] apply to an entry only while its job is `processing` under that
/// token, and answer `false` for an entry they did not apply.
#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    /// Stores new jobs as given, all of them or, when one is refused, none (R1). With
    /// [`OnConflict::Skip`] a job whose id is stored already is left out
    /// ([`Inserted::Skipped`]); the scheduler relies on it to store each occurrence's job once
    /// (R15). A job whose unique key is held is left out too ([`Inserted::Duplicate`]), atomically
    /// with respect to concurrent inserts (R27).
    async fn insert_jobs(&self, insert: &InsertJobs<'_>) -> Result<Vec<Inserted>>;

    /// Atomically claims up to `limit` due jobs in pull order — highest `priority` first, then
    /// oldest `queued_at`, then smallest id (R2, R26): status `processing`, `picked_at = now`,
    /// `attempt + 1`, the lease and token written; returns them as stored, in pull order.
    async fn claim_jobs(&self, claim: &ClaimJobs<'_>) -> Result<Vec<Job>>;

    /// Ends attempts, each as its [`OutcomeKind`] says, lease cleared (R3, R9). Stores apply
    /// the batch in one round trip where they can (one statement, transaction or lock).
    async fn record_outcomes(&self, outcomes: &[Outcome]) -> Result<Vec<bool>>;

    /// Ends attempts whose worker was lost, exactly as [`record_outcomes`](Self::record_outcomes)
    /// would, but each only while its lease has expired (`lease_until <= now`) (R8).
    async fn rescue_jobs(&self, outcomes: &[Outcome]) -> Result<Vec<bool>>;

    /// Hands claimed attempts that never started back to the queue as if never claimed:
    /// `queued`, `attempt - 1`, lease cleared, no error record; `picked_at` is cleared when no
    /// attempt remains counted (R23).
    async fn release_jobs(&self, leases: &[Lease]) -> Result<Vec<bool>>;

    /// Extends the leases of claimed attempts (R8, R24).
    async fn renew_leases(&self, renew: &RenewLeases<'_>) -> Result<Vec<bool>>;

    /// Up to `limit` `processing` jobs whose lease ended at or before `now`, oldest lease
    /// first (R8).
    async fn expired_leases(&self, query: &ExpiredLeases) -> Result<Vec<Job>>;

    /// Cancels the job when its status is one of `cancellable`: `cancelled`, lease cleared,
    /// `completed_at = now` (R4). Returns the status before the call, `None` for an unknown id.
    async fn cancel_job(&self, cancel: &CancelJob<'_>) -> Result<Option<JobStatus>>;

    /// One job, `None` for an unknown id.
    async fn get_job(&self, id: &JobId) -> Result<Option<Job>>;

    /// A job's error records in the order they were added, `None` for an unknown id.
    async fn job_errors(&self, id: &JobId) -> Result<Option<Vec<ErrorRecord>>>;

    /// Jobs passing the query's filters, sorted by `(queued_at, id)` (newest first unless
    /// asked) (R5).
    async fn list_jobs(&self, query: &JobQuery) -> Result<Vec<Job>>;

    /// Number of jobs per status; statuses without jobs may be absent (R5).
    async fn count_jobs(&self) -> Result<StatusCounts>;

    /// Deletes the jobs the query selects, with their error records; counts per status (R6,
    /// R33). Concurrent calls delete each job once.
    async fn remove_jobs(&self, remove: &RemoveJobs<'_>) -> Result<StatusCounts>;

    /// Makes the space of removed jobs reusable where the database leaves that to a later pass
    /// (PostgreSQL: `VACUUM`), so that claims stop paying for the rows pruning deleted; pruning
    /// calls it every [`PRUNE_RECLAIM_EVERY`](crate::retention::PRUNE_RECLAIM_EVERY) removed
    /// jobs (R33). Stores without such a pass keep this default, which does nothing.
    async fn reclaim_space(&self) -> Result<()> {
        Ok(())
    }

    /// Puts the selected finished jobs back in the queue with a fresh attempt budget: `queued`,
    /// `attempt = 0`, `snoozes = 0`, `not_before`, `output`, `completed_at` and `picked_at`
    /// cleared, `queued_at` and error records kept; counts per status before the call (R30).
    async fn retry_jobs(&self, retry: &RetryJobs<'_>) -> Result<StatusCounts>;

    /// Pauses or resumes job names (R31); pausing a paused name keeps its `since`.
    async fn pause_names(&self, pause: &PauseNames<'_>) -> Result<()>;

    /// The paused job names, by name (R31).
    async fn paused_names(&self) -> Result<Vec<PausedName>>;

    /// Wins or renews a named lease: applies when the lease is free (ended at or before `now`,
    /// or never held) or held by the same holder, writing `holder`, `until` and, when given,
    /// the note; `false` when another holder has it. Atomic under concurrent bids (R33).
    async fn acquire_leader(&self, acquire: &AcquireLeader<'_>) -> Result<bool>;

    /// Every named lease, by name (R33).
    async fn leaders(&self) -> Result<Vec<Leader>>;

    /// Signalled when a job was added, also by another process where the store can observe
    /// that; `None` when it cannot, and idle workers then poll.
    fn wakeups(&self) -> Option<Arc<Notify>> {
        None
    }
}

/// Storage of scheduler items.
#[async_trait]
pub trait SchedulerStore: Send + Sync + 'static {
    /// Stores a new item as given (R14).
    async fn insert_item(&self, item: &SchedulerItem) -> Result<()>;

    /// One item, `None` for an unknown id.
    async fn get_item(&self, id: &ItemId) -> Result<Option<SchedulerItem>>;

    /// All items, ordered by id.
    async fn list_items(&self) -> Result<Vec<SchedulerItem>>;

    /// Replaces a stored item; `false` when it does not exist.
    async fn update_item(&self, item: &SchedulerItem) -> Result<bool>;

    /// Deletes an item; `false` when it did not exist.
    async fn delete_item(&self, id: &ItemId) -> Result<bool>;

    /// Atomically locks up to `limit` items due at `now` (R15), earliest `next_call_time`
    /// first (ties: smaller id), writing `locked_until`; returns them as stored. Items another
    /// caller locks at the same moment are skipped, so concurrent schedulers claim different
    /// items (R25).
    async fn claim_items(&self, claim: &ClaimItems) -> Result<Vec<SchedulerItem>>;

    /// Writes `next_call_time` and `locked_until` of each item whose `next_call_time` and
    /// `locked_until` are still the expected ones and which is still active (R15).
    async fn take_items(&self, takes: &[Take]) -> Result<Vec<bool>>;
}

/// A store of both jobs and scheduler items, as most backends are.
pub trait Store: JobStore + SchedulerStore {}

impl<T: JobStore + SchedulerStore> Store for T {}
