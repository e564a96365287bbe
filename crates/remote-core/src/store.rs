//! The store contract: atomic state changes that take `now`, and nothing else.
//!
//! Retry decisions, lease lengths and schedule math are computed by the processor and handed
//! to the store as plain values; a store only applies them atomically.

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

/// What a worker asks for when it claims jobs (R2).
#[derive(Clone, Debug)]
pub struct Claim<'a> {
    /// Only jobs with one of these names; none match an empty list.
    pub names: &'a [String],
    /// Current time: jobs with `retry_time > now` are not due.
    pub now: DateTime<Utc>,
    /// Lease end written on each claimed job.
    pub lease_until: DateTime<Utc>,
    /// Fencing token written on each claimed job.
    pub token: LeaseToken,
    /// Most jobs to claim.
    pub limit: usize,
}

/// How a failed attempt ends, decided by the processor (R3, R8).
#[derive(Clone, Debug)]
pub struct Failure {
    /// The record to append.
    pub record: ErrorRecord,
    /// `Some(t)`: back to `queued`, not pulled before `t`; `None`: status `error`.
    pub retry_at: Option<DateTime<Utc>>,
    /// Current time (written as `completed_at` when the job ends in `error`).
    pub now: DateTime<Utc>,
    /// Lease recovery: apply only while the lease has expired (`lease_until <= now`).
    pub lease_expired: bool,
}

/// An attempt to end with output, one entry of [`JobStore::complete_jobs`].
#[derive(Clone, Debug, PartialEq)]
pub struct Completion {
    /// The job.
    pub id: JobId,
    /// The fencing token of the attempt.
    pub token: LeaseToken,
    /// The handler's output.
    pub output: Value,
    /// Current time, written as `completed_at`.
    pub now: DateTime<Utc>,
}

/// A conditional take of a due scheduler item (R15).
#[derive(Clone, Debug)]
pub struct Take {
    /// The item.
    pub id: ItemId,
    /// The `next_call_time` the caller read; the take fails if it changed.
    pub expected_next_call_time: DateTime<Utc>,
    /// The next call time to store (`None`: never again).
    pub next_call_time: Option<DateTime<Utc>>,
    /// The lock to store as `retry_time` (`None`: no lock).
    pub retry_time: Option<DateTime<Utc>>,
    /// Current time: the item must be active, due and unlocked at `now`.
    pub now: DateTime<Utc>,
}

/// Storage of jobs and their error records.
///
/// Every method is one atomic change or one read. Methods taking a [`LeaseToken`] apply only
/// when the job is `processing` under that token, and report with `false` when they did not.
#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    /// Stores new jobs as given (status `queued`). A job whose id is stored already is refused
    /// with [`Error::JobExists`](crate::Error::JobExists) and leaves the stored job unchanged;
    /// the scheduler relies on it to store each occurrence's job once (R15).
    async fn insert_jobs(&self, jobs: &[Job]) -> Result<()>;

    /// Atomically claims up to `claim.limit` due jobs in pull order (R2): status `processing`,
    /// `picked_at = now`, `retry_counter + 1`, the lease and token written; returns them as stored.
    async fn claim_jobs(&self, claim: &Claim<'_>) -> Result<Vec<Job>>;

    /// Ends an attempt with output: `completed`, `output`, `completed_at = now`, lease cleared.
    async fn complete_job(
        &self,
        id: &JobId,
        token: LeaseToken,
        output: &Value,
        now: DateTime<Utc>,
    ) -> Result<bool>;

    /// Ends several attempts with output, each exactly as [`complete_job`](Self::complete_job)
    /// would (fenced by its own token); returns, in the same order, whether each applied.
    ///
    /// Stores that can should apply the batch in one round trip; the default calls
    /// `complete_job` for every entry concurrently.
    async fn complete_jobs(&self, completions: &[Completion]) -> Result<Vec<bool>> {
        futures::future::join_all(
            completions
                .iter()
                .map(|c| self.complete_job(&c.id, c.token, &c.output, c.now)),
        )
        .await
        .into_iter()
        .collect()
    }

    /// Ends an attempt with a failure: appends the record, then `queued` with
    /// `retry_time = retry_at`, or `error` with `completed_at = now`; lease cleared.
    async fn fail_job(&self, id: &JobId, token: LeaseToken, failure: &Failure) -> Result<bool>;

    /// Extends the lease of a running attempt.
    async fn renew_lease(
        &self,
        id: &JobId,
        token: LeaseToken,
        lease_until: DateTime<Utc>,
    ) -> Result<bool>;

    /// Up to `limit` `processing` jobs whose lease ended at or before `now`, oldest lease first.
    async fn expired_leases(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Job>>;

    /// Cancels a `queued` or `processing` job (lease cleared, `completed_at = now`); returns the
    /// status before the call, `None` for an unknown id. Other statuses are left unchanged.
    async fn cancel_job(&self, id: &JobId, now: DateTime<Utc>) -> Result<Option<JobStatus>>;

    /// One job, `None` for an unknown id.
    async fn get_job(&self, id: &JobId) -> Result<Option<Job>>;

    /// A job's error records in the order they were added, `None` for an unknown id.
    async fn job_errors(&self, id: &JobId) -> Result<Option<Vec<ErrorRecord>>>;

    /// Jobs passing the query's filters, sorted by `(queued_at, id)` (newest first unless asked).
    async fn list_jobs(&self, query: &JobQuery) -> Result<Vec<Job>>;

    /// Number of jobs per status (statuses without jobs may be absent).
    async fn count_jobs(&self) -> Result<StatusCounts>;

    /// Deletes all jobs (and their error records) with the given statuses; counts per status.
    async fn remove_jobs(&self, statuses: &[JobStatus]) -> Result<StatusCounts>;

    /// Signalled when another process added a job, for stores that can observe that.
    fn wakeups(&self) -> Option<Arc<Notify>> {
        None
    }
}

/// Storage of scheduler items.
#[async_trait]
pub trait SchedulerStore: Send + Sync + 'static {
    /// Stores a new item as given.
    async fn insert_item(&self, item: &SchedulerItem) -> Result<()>;

    /// One item, `None` for an unknown id.
    async fn get_item(&self, id: &ItemId) -> Result<Option<SchedulerItem>>;

    /// All items, ordered by id.
    async fn list_items(&self) -> Result<Vec<SchedulerItem>>;

    /// Replaces a stored item; `false` when it does not exist.
    async fn update_item(&self, item: &SchedulerItem) -> Result<bool>;

    /// Deletes an item; `false` when it did not exist.
    async fn delete_item(&self, id: &ItemId) -> Result<bool>;

    /// Up to `limit` items due at `now` (R15), earliest `next_call_time` first (ties: smaller id).
    async fn due_items(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<SchedulerItem>>;

    /// Atomically writes `next_call_time` and `retry_time` if the item is still due at `now`
    /// and its `next_call_time` is still `expected_next_call_time`; `false` otherwise.
    async fn take_item(&self, take: &Take) -> Result<bool>;
}

/// A store of both jobs and scheduler items, as most backends are.
pub trait Store: JobStore + SchedulerStore {}

impl<T: JobStore + SchedulerStore> Store for T {}
