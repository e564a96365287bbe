//! One-entry forms of the batched store calls, so that a case reads as the single state change
//! it checks; each returns what the store answered for its one entry.

use chrono::{DateTime, Utc};
use remote_core::{
    CancelJob, ClaimJobs, ErrorRecord, ExpiredLeases, InsertJobs, Job, JobId, JobStatus, JobStore,
    Lease, LeaseToken, OnConflict, Outcome, OutcomeKind, RenewLeases, Result,
};
use serde_json::Value;

/// The statuses the processor cancels from (R4).
pub const CANCELLABLE: [JobStatus; 2] = [JobStatus::Queued, JobStatus::Processing];

/// A lease token from a number, for readable cases.
pub fn token(n: i64) -> LeaseToken {
    LeaseToken::from_i64(n)
}

/// The lease of `id` under `token`.
pub fn lease(id: &JobId, token: LeaseToken) -> Lease {
    Lease {
        id: id.clone(),
        token,
    }
}

/// Inserts `jobs`, refusing a stored id.
pub async fn insert(store: &dyn JobStore, jobs: &[Job]) -> Result<()> {
    store
        .insert_jobs(&InsertJobs {
            jobs,
            on_conflict: OnConflict::Refuse,
        })
        .await
        .map(|_| ())
}

/// A claim of up to `limit` jobs named `names`.
pub fn claim_of<'a>(
    names: &'a [String],
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    token: LeaseToken,
    limit: usize,
) -> ClaimJobs<'a> {
    ClaimJobs {
        names,
        now,
        lease_until,
        token,
        limit,
    }
}

/// The first answer of a one-entry batch call.
fn one(answers: Result<Vec<bool>>) -> Result<bool> {
    answers.map(|a| a.first().copied().unwrap_or(false))
}

/// Completes one attempt with `output`.
pub async fn complete(
    store: &dyn JobStore,
    id: &JobId,
    token: LeaseToken,
    output: &Value,
    now: DateTime<Utc>,
) -> Result<bool> {
    one(store
        .record_outcomes(&[completion(id, token, output.clone(), now)])
        .await)
}

/// The outcome completing `id`'s attempt with `output`.
pub fn completion(id: &JobId, token: LeaseToken, output: Value, now: DateTime<Utc>) -> Outcome {
    Outcome {
        lease: lease(id, token),
        now,
        kind: OutcomeKind::Completed { output },
    }
}

/// The outcome failing `id`'s attempt with `record`: retried at `retry_at`, or for good.
pub fn failure(
    id: &JobId,
    token: LeaseToken,
    record: ErrorRecord,
    retry_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Outcome {
    let kind = match retry_at {
        Some(not_before) => OutcomeKind::Retry { record, not_before },
        None => OutcomeKind::Failed { record },
    };
    Outcome {
        lease: lease(id, token),
        now,
        kind,
    }
}

/// Records one failed attempt (see [`failure`]).
pub async fn fail(store: &dyn JobStore, outcome: &Outcome) -> Result<bool> {
    one(store.record_outcomes(std::slice::from_ref(outcome)).await)
}

/// Rescues one attempt whose lease expired (see [`failure`]).
pub async fn rescue(store: &dyn JobStore, outcome: &Outcome) -> Result<bool> {
    one(store.rescue_jobs(std::slice::from_ref(outcome)).await)
}

/// Extends one lease.
pub async fn renew(
    store: &dyn JobStore,
    id: &JobId,
    token: LeaseToken,
    lease_until: DateTime<Utc>,
) -> Result<bool> {
    one(store
        .renew_leases(&RenewLeases {
            leases: &[lease(id, token)],
            lease_until,
        })
        .await)
}

/// Up to `limit` jobs whose lease expired at `now`.
pub async fn expired(store: &dyn JobStore, now: DateTime<Utc>, limit: usize) -> Result<Vec<Job>> {
    store.expired_leases(&ExpiredLeases { now, limit }).await
}

/// Cancels `id` from the statuses the processor cancels from.
pub async fn cancel(
    store: &dyn JobStore,
    id: &JobId,
    now: DateTime<Utc>,
) -> Result<Option<JobStatus>> {
    store
        .cancel_job(&CancelJob {
            id,
            cancellable: &CANCELLABLE,
            now,
        })
        .await
}

/// A failure not yet tied to an attempt, for cases that try it on several.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The record to append.
    pub record: ErrorRecord,
    /// `Some(t)`: retried, not pulled before `t`; `None`: failed for good.
    pub retry_at: Option<DateTime<Utc>>,
    /// Current time.
    pub now: DateTime<Utc>,
}

impl Failure {
    /// The outcome of this failure for `id`'s attempt under `token`.
    pub fn of(&self, id: &JobId, token: LeaseToken) -> Outcome {
        failure(id, token, self.record.clone(), self.retry_at, self.now)
    }
}
