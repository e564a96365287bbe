//! The job side: batch claims in pull order, lease-fenced outcomes, cancels, removals and
//! retries of finished jobs (R2–R8, R23, R26, R29, R30).
//!
//! Every update that changes a job's status is a pipeline update that also recomputes the
//! unique-key guard for the new status (see the `unique` module).

use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use mongodb::options::{ReturnDocument, UpdateModifications};
use mongodb::ClientSession;
use remote_core::__private::async_trait;
use remote_core::{
    AcquireLeader, CancelJob, ClaimJobs, Error, ErrorRecord, ExpiredLeases, InsertJobs, Inserted,
    Job, JobId, JobNames, JobQuery, JobStatus, JobStore, Leader, Lease, Outcome, OutcomeKind,
    PauseNames, PausedName, RemoveJobs, RenewLeases, Result, RetryJobs, StatusCounts, StatusSet,
};
use tokio::sync::Notify;
use tracing::warn;

use crate::bulk::{apply_each, Conditional};
use crate::claim::BatchClaim;
use crate::config::MongoStore;
use crate::documents::{
    date, job_from_document, json_text, object_id, passed, record_document, records_from_document,
    status_from_document,
};
use crate::indexes::CLAIM_INDEX;
use crate::transaction::{Failure, Transaction};
use crate::unique::{holder_in, lock_keys, lookup, HOLDER_FIELD};
use crate::wakeups::wake;

/// Jobs retried with one `bulkWrite`.
const RETRY_BATCH: usize = 1_000;

/// Jobs are read without their error records, which only `job_errors` returns.
fn without_errors() -> Document {
    doc! { "errors": 0 }
}

/// The filter of a running attempt: `processing` under its token (R8).
fn leased(lease: &Lease) -> Result<Document> {
    Ok(doc! {
        "_id": object_id(lease.id.as_str())?,
        "status": JobStatus::Processing.as_str(),
        "lease_token": lease.token.as_i64(),
    })
}

fn statuses(list: &[JobStatus]) -> Vec<&'static str> {
    list.iter().map(|s| s.as_str()).collect()
}

/// The condition on `job_name` selecting `names`; `None` for all names.
fn names_filter(names: &JobNames<'_>) -> Option<Document> {
    match names {
        JobNames::All => None,
        JobNames::Only(names) => Some(doc! { "$in": *names }),
        JobNames::Except(names) => Some(doc! { "$nin": *names }),
    }
}

async fn collect_jobs(cursor: mongodb::Cursor<Document>, context: &str) -> Result<Vec<Job>> {
    let docs: Vec<Document> = cursor
        .try_collect()
        .await
        .map_err(|e| Error::store(context.to_owned(), e))?;
    docs.iter().map(job_from_document).collect()
}

/// A change of a job's status as a pipeline update: the fields of `set`, written as literals
/// or expressions, the status `to`, and the unique-key guard for `to`.
struct StatusChange {
    set: Document,
}

impl StatusChange {
    /// A change to `to` that also writes `set` (pipeline expressions: values from outside go
    /// through [`literal`]).
    fn new(to: JobStatus, mut set: Document) -> Self {
        set.insert("status", to.as_str());
        set.insert(HOLDER_FIELD, holder_in(to));
        Self { set }
    }

    /// The `$set` stage of the update.
    fn stage(&self) -> Document {
        self.set.clone()
    }

    /// The update, one `$set` stage.
    fn update(&self) -> UpdateModifications {
        UpdateModifications::Pipeline(vec![doc! { "$set": self.stage() }])
    }

    /// As one entry of a `bulkWrite`.
    fn conditional(&self, filter: Document) -> Conditional {
        Conditional::new(filter, self.update())
    }
}

/// A value a pipeline stage writes as it is, never reading it as an expression or a field path
/// (`"$x"` is a path in a pipeline).
fn literal(value: impl Into<Bson>) -> Bson {
    Bson::Document(doc! { "$literal": value.into() })
}

/// The expression of `attempt - 1`, not below 0: an attempt handed back uncounted.
fn attempt_undone() -> Bson {
    Bson::Document(doc! { "$max": [0_i64, { "$subtract": ["$attempt", 1_i64] }] })
}

/// The change ending an attempt as `kind` says, at `now` (R3, R29); a failure's record is
/// appended to `errors`.
fn outcome_change(outcome: &Outcome) -> Result<StatusChange> {
    let mut set = doc! { "lease_until": Bson::Null, "lease_token": Bson::Null };
    let (to, record) = match &outcome.kind {
        OutcomeKind::Completed { output } => {
            set.insert("output", literal(json_text(output)?));
            set.insert("completed_at", date(outcome.now));
            (JobStatus::Completed, None)
        }
        OutcomeKind::Retry { record, not_before } => {
            set.insert("not_before", date(*not_before));
            (JobStatus::Queued, Some(record))
        }
        OutcomeKind::Failed { record } => {
            set.insert("completed_at", date(outcome.now));
            (JobStatus::Error, Some(record))
        }
        OutcomeKind::Snooze { not_before } => {
            set.insert("not_before", date(*not_before));
            set.insert("attempt", attempt_undone());
            set.insert("snoozes", doc! { "$add": ["$snoozes", 1_i64] });
            (JobStatus::Queued, None)
        }
    };
    if let Some(record) = record {
        set.insert(
            "errors",
            doc! {
                "$concatArrays": [
                    { "$ifNull": ["$errors", []] },
                    [literal(record_document(record)?)],
                ],
            },
        );
    }
    Ok(StatusChange::new(to, set))
}

/// The change handing a claimed attempt back as if never claimed (R23): `attempt - 1` (not
/// below 0), `picked_at` cleared when no attempt remains counted.
fn release_change() -> StatusChange {
    StatusChange::new(
        JobStatus::Queued,
        doc! {
            "attempt": attempt_undone(),
            "picked_at": { "$cond": [{ "$lte": ["$attempt", 1_i64] }, Bson::Null, "$picked_at"] },
            "lease_until": Bson::Null,
            "lease_token": Bson::Null,
        },
    )
}

/// The change putting a finished job back in the queue with a fresh budget (R30).
fn retry_change() -> StatusChange {
    StatusChange::new(
        JobStatus::Queued,
        doc! {
            "attempt": 0_i64,
            "snoozes": 0_i64,
            "not_before": Bson::Null,
            "output": Bson::Null,
            "completed_at": Bson::Null,
            "picked_at": Bson::Null,
            "lease_until": Bson::Null,
            "lease_token": Bson::Null,
        },
    )
}

impl MongoStore {
    /// Applies outcomes with one `bulkWrite`; `expired`: each only while its lease has ended
    /// at or before its `now` (R8).
    async fn end_attempts(&self, outcomes: &[Outcome], expired: bool) -> Result<Vec<bool>> {
        let updates = outcomes
            .iter()
            .map(|outcome| {
                let mut filter = leased(&outcome.lease)?;
                if expired {
                    filter.insert("lease_until", passed(outcome.now));
                }
                Ok(outcome_change(outcome)?.conditional(filter))
            })
            .collect::<Result<Vec<_>>>()?;
        let what = if expired {
            "rescuing jobs"
        } else {
            "recording outcomes"
        };
        apply_each(self.database.client(), &self.jobs, updates, what).await
    }

    /// Retries the jobs of `chosen` that hold no key once queued: one `updateMany` per
    /// status, each requiring the status read. Counts per status.
    async fn retry_plain(&self, chosen: &[Chosen]) -> Result<StatusCounts> {
        let mut counts = StatusCounts::new();
        for (status, ids) in by_status(chosen.iter()) {
            let result = self
                .jobs
                .update_many(
                    doc! { "_id": { "$in": ids }, "status": status.as_str() },
                    retry_change().update(),
                )
                .await
                .map_err(|e| Error::store("retrying jobs", e))?;
            counts.insert(status, result.matched_count);
        }
        Ok(counts)
    }

    /// Retries the jobs of `chosen` that hold their key once queued, in a transaction that
    /// locks the keys and reads their holders first: a job whose key another job holds, or an
    /// earlier job of the batch takes, is left as it is (R27, R30).
    async fn retry_keyed(&self, chosen: &[Chosen]) -> Result<StatusCounts> {
        let mut keys: Vec<&str> = chosen.iter().filter_map(|c| c.key.as_deref()).collect();
        keys.sort_unstable();
        keys.dedup();
        let mut transaction = Transaction::new(self, "retrying jobs").await?;
        loop {
            transaction.begin().await?;
            let result = self
                .retry_keyed_in(transaction.session(), chosen, &keys)
                .await;
            if let Some(counts) = transaction.finish(result).await? {
                return Ok(counts);
            }
        }
    }

    async fn retry_keyed_in(
        &self,
        session: &mut ClientSession,
        chosen: &[Chosen],
        keys: &[&str],
    ) -> std::result::Result<StatusCounts, Failure> {
        lock_keys(&self.database, &self.locks, keys, session)
            .await
            .map_err(|e| Failure::Driver("locking the unique keys of retried jobs", e))?;
        let known = lookup(&self.jobs, &[], keys, Some(&mut *session))
            .await
            .map_err(|e| Failure::Driver("looking up the holders of unique keys", e))?;
        let mut taken = HashSet::new();
        let free = chosen.iter().filter(|c| {
            let Some(key) = c.key.as_deref() else {
                return true;
            };
            let held_by_another = known
                .holders
                .get(key)
                .is_some_and(|holder| Some(holder.as_str()) != c.hex.as_deref());
            !held_by_another && taken.insert(key)
        });
        let mut counts = StatusCounts::new();
        for (status, ids) in by_status(free) {
            let result = self
                .jobs
                .update_many(
                    doc! { "_id": { "$in": ids }, "status": status.as_str() },
                    retry_change().update(),
                )
                .session(&mut *session)
                .await
                .map_err(|e| Failure::Driver("retrying jobs", e))?;
            counts.insert(status, result.matched_count);
        }
        Ok(counts)
    }
}

/// A finished job selected for a retry, as read.
struct Chosen {
    id: Bson,
    /// The id as hex, to compare with holders.
    hex: Option<String>,
    status: JobStatus,
    /// The unique key the job holds once queued again.
    key: Option<String>,
}

impl Chosen {
    fn read(doc: &Document) -> Result<Self> {
        let id = doc.get("_id").cloned().unwrap_or(Bson::Null);
        let across = match doc.get("unique_across") {
            Some(Bson::Int32(bits)) => u8::try_from(*bits).ok(),
            Some(Bson::Int64(bits)) => u8::try_from(*bits).ok(),
            _ => None,
        }
        .map(StatusSet::from_bits)
        .unwrap_or(StatusSet::LIVE);
        let key = doc
            .get_str("unique_key")
            .ok()
            .filter(|_| across.contains(JobStatus::Queued))
            .map(str::to_owned);
        Ok(Self {
            hex: id.as_object_id().map(|oid| oid.to_hex()),
            id,
            status: status_from_document(doc)?,
            key,
        })
    }
}

/// The ids of `chosen` per status.
fn by_status<'a>(chosen: impl Iterator<Item = &'a Chosen>) -> HashMap<JobStatus, Vec<Bson>> {
    let mut ids: HashMap<JobStatus, Vec<Bson>> = HashMap::new();
    for c in chosen {
        ids.entry(c.status).or_default().push(c.id.clone());
    }
    ids
}

#[async_trait]
impl JobStore for MongoStore {
    /// One `find` of the stored ids (with [`OnConflict::Refuse`](remote_core::OnConflict::Refuse), or when unique keys are in
    /// play) and of the holders of the batch's unique keys, then one unordered `insertMany`
    /// (see the `insert` module). A stored or repeated id refuses the call with nothing
    /// written; only an id or key another caller stores between the read and the insert is
    /// refused by its unique index, and then answered from a second read.
    async fn insert_jobs(&self, insert: &InsertJobs<'_>) -> Result<Vec<Inserted>> {
        self.insert(insert.jobs, insert.on_conflict).await
    }

    /// Three commands whatever the batch size (see the `claim` module): a sorted read of
    /// candidate ids on the claim index, one `updateMany` taking the first `limit` of them while
    /// still queued and due, one read of the jobs taken by the claim's marker. When the claim
    /// is cut short after jobs were taken, those jobs are returned, so that none waits for its
    /// lease to expire; the error shows on the next claim.
    async fn claim_jobs(&self, claim: &ClaimJobs<'_>) -> Result<Vec<Job>> {
        if claim.names.is_empty() || claim.limit == 0 {
            return Ok(Vec::new());
        }
        let change = StatusChange::new(
            JobStatus::Processing,
            doc! {
                "picked_at": date(claim.now),
                "lease_until": date(claim.lease_until),
                "lease_token": claim.token.as_i64(),
                "attempt": { "$add": ["$attempt", 1_i64] },
            },
        );
        let claimed = BatchClaim {
            collection: &self.jobs,
            claimable: doc! {
                "status": JobStatus::Queued.as_str(),
                "not_before": passed(claim.now),
            },
            candidates: doc! { "job_name": { "$in": claim.names } },
            order: doc! { "priority": -1, "queued_at": 1, "_id": 1 },
            hint: CLAIM_INDEX,
            set: change.stage(),
            still: doc! {
                "status": JobStatus::Processing.as_str(),
                "lease_token": claim.token.as_i64(),
            },
            projection: Some(without_errors()),
            limit: claim.limit,
            what: "jobs",
        }
        .run()
        .await?;
        let mut jobs = Vec::with_capacity(claimed.docs.len());
        let mut failure = claimed.cut_short;
        for doc in &claimed.docs {
            match job_from_document(doc) {
                Ok(job) => jobs.push(job),
                Err(e) => failure = Some(e),
            }
        }
        if let Some(e) = failure {
            if jobs.is_empty() {
                return Err(e);
            }
            warn!(
                "claim cut short, keeping the {} jobs claimed: {e}",
                jobs.len()
            );
        }
        jobs.sort_by(|a, b| {
            (Reverse(a.priority), a.queued_at, &a.id).cmp(&(
                Reverse(b.priority),
                b.queued_at,
                &b.id,
            ))
        });
        Ok(jobs)
    }

    /// One `bulkWrite` of conditional pipeline updates, each fenced by its lease token; a
    /// failure's record is appended to the job's `errors` in the update that ends it.
    async fn record_outcomes(&self, outcomes: &[Outcome]) -> Result<Vec<bool>> {
        self.end_attempts(outcomes, false).await
    }

    /// As [`record_outcomes`](JobStore::record_outcomes), each update also requiring
    /// `lease_until <= now`.
    async fn rescue_jobs(&self, outcomes: &[Outcome]) -> Result<Vec<bool>> {
        self.end_attempts(outcomes, true).await
    }

    /// One `bulkWrite` of pipeline updates fenced by the lease token.
    async fn release_jobs(&self, leases: &[Lease]) -> Result<Vec<bool>> {
        let change = release_change();
        let updates = leases
            .iter()
            .map(|lease| Ok(change.conditional(leased(lease)?)))
            .collect::<Result<Vec<_>>>()?;
        let released = apply_each(
            self.database.client(),
            &self.jobs,
            updates,
            "releasing jobs",
        )
        .await?;
        if released.contains(&true) {
            if let Some(notify) = &self.wakeups {
                wake(notify);
            }
        }
        Ok(released)
    }

    /// One `bulkWrite` of updates fenced by the lease token.
    async fn renew_leases(&self, renew: &RenewLeases<'_>) -> Result<Vec<bool>> {
        let updates = renew
            .leases
            .iter()
            .map(|lease| {
                Ok(Conditional::new(
                    leased(lease)?,
                    UpdateModifications::Document(
                        doc! { "$set": { "lease_until": date(renew.lease_until) } },
                    ),
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        apply_each(
            self.database.client(),
            &self.jobs,
            updates,
            "renewing leases",
        )
        .await
    }

    async fn expired_leases(&self, query: &ExpiredLeases) -> Result<Vec<Job>> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let cursor = self
            .jobs
            .find(doc! {
                "status": JobStatus::Processing.as_str(),
                "lease_until": { "$lte": date(query.now) },
            })
            .sort(doc! { "lease_until": 1, "_id": 1 })
            .limit(i64::try_from(query.limit).unwrap_or(i64::MAX))
            .projection(without_errors())
            .await
            .map_err(|e| Error::store("finding expired leases", e))?;
        collect_jobs(cursor, "reading expired leases").await
    }

    /// One `findAndModify` on the cancellable statuses returning the document as it was, which
    /// gives the previous status atomically; a read of the status when nothing was cancelled.
    async fn cancel_job(&self, cancel: &CancelJob<'_>) -> Result<Option<JobStatus>> {
        let id = cancel.id;
        let oid = object_id(id.as_str())?;
        if !cancel.cancellable.is_empty() {
            let change = StatusChange::new(
                JobStatus::Cancelled,
                doc! {
                    "completed_at": date(cancel.now),
                    "lease_until": Bson::Null,
                    "lease_token": Bson::Null,
                },
            );
            let before = self
                .jobs
                .find_one_and_update(
                    doc! { "_id": oid, "status": { "$in": statuses(cancel.cancellable) } },
                    change.update(),
                )
                .projection(doc! { "status": 1 })
                .return_document(ReturnDocument::Before)
                .await
                .map_err(|e| Error::store(format!("cancelling job {id}"), e))?;
            if let Some(doc) = before {
                return status_from_document(&doc).map(Some);
            }
        }
        self.jobs
            .find_one(doc! { "_id": oid })
            .projection(doc! { "status": 1 })
            .await
            .map_err(|e| Error::store(format!("reading job {id}"), e))?
            .as_ref()
            .map(status_from_document)
            .transpose()
    }

    async fn get_job(&self, id: &JobId) -> Result<Option<Job>> {
        self.jobs
            .find_one(doc! { "_id": object_id(id.as_str())? })
            .projection(without_errors())
            .await
            .map_err(|e| Error::store(format!("reading job {id}"), e))?
            .as_ref()
            .map(job_from_document)
            .transpose()
    }

    async fn job_errors(&self, id: &JobId) -> Result<Option<Vec<ErrorRecord>>> {
        self.jobs
            .find_one(doc! { "_id": object_id(id.as_str())? })
            .projection(doc! { "errors": 1 })
            .await
            .map_err(|e| Error::store(format!("reading the errors of job {id}"), e))?
            .as_ref()
            .map(records_from_document)
            .transpose()
    }

    async fn list_jobs(&self, query: &JobQuery) -> Result<Vec<Job>> {
        let limit = match query.limit {
            Some(0) => return Ok(Vec::new()),
            Some(n) => i64::try_from(n).unwrap_or(i64::MAX),
            None => 0,
        };
        if i64::try_from(query.offset).is_err() {
            return Ok(Vec::new());
        }
        let mut filter = Document::new();
        if !query.statuses.is_empty() {
            filter.insert("status", doc! { "$in": statuses(&query.statuses) });
        }
        if let Some(name) = &query.job_name {
            filter.insert("job_name", name);
        }
        let direction = if query.oldest_first { 1 } else { -1 };
        let cursor = self
            .jobs
            .find(filter)
            .sort(doc! { "queued_at": direction, "_id": direction })
            .skip(query.offset)
            .limit(limit)
            .projection(without_errors())
            .await
            .map_err(|e| Error::store("listing jobs", e))?;
        collect_jobs(cursor, "reading listed jobs").await
    }

    async fn count_jobs(&self) -> Result<StatusCounts> {
        let groups: Vec<Document> = self
            .jobs
            .aggregate([doc! { "$group": { "_id": "$status", "n": { "$sum": 1 } } }])
            .await
            .map_err(|e| Error::store("counting jobs", e))?
            .try_collect()
            .await
            .map_err(|e| Error::store("reading job counts", e))?;
        let mut counts = StatusCounts::new();
        for group in groups {
            let status = match group.get("_id") {
                Some(Bson::String(s)) => s
                    .parse::<JobStatus>()
                    .map_err(|e| Error::store("counting jobs: a job has an unknown status", e))?,
                other => {
                    return Err(Error::store_msg(format!(
                        "counting jobs: a job has no status string ({other:?})"
                    )))
                }
            };
            let n = match group.get("n") {
                Some(Bson::Int32(n)) => u64::try_from(*n).unwrap_or(0),
                Some(Bson::Int64(n)) => u64::try_from(*n).unwrap_or(0),
                other => {
                    return Err(Error::store_msg(format!(
                        "counting jobs: unexpected count {other:?}"
                    )))
                }
            };
            counts.insert(status, n);
        }
        Ok(counts)
    }

    /// Without a limit, one `deleteMany` per status. With one, a read of the ids to delete,
    /// oldest `completed_at` first, then one `deleteMany` per status among them. Error records
    /// are part of their job's document and go with it.
    async fn remove_jobs(&self, remove: &RemoveJobs<'_>) -> Result<StatusCounts> {
        let mut wanted: Vec<JobStatus> = Vec::with_capacity(remove.statuses.len());
        for status in remove.statuses {
            if !wanted.contains(status) {
                wanted.push(*status);
            }
        }
        let finished = remove
            .finished_before
            .map(|before| doc! { "$lt": date(before) });
        let names = names_filter(&remove.names);
        let mut removed = StatusCounts::new();
        let Some(limit) = remove.limit else {
            for status in wanted {
                let mut filter = doc! { "status": status.as_str() };
                if let Some(finished) = &finished {
                    filter.insert("completed_at", finished.clone());
                }
                if let Some(names) = &names {
                    filter.insert("job_name", names.clone());
                }
                let result = self
                    .jobs
                    .delete_many(filter)
                    .await
                    .map_err(|e| Error::store(format!("removing {status} jobs"), e))?;
                removed.insert(status, result.deleted_count);
            }
            return Ok(removed);
        };
        if limit == 0 || wanted.is_empty() {
            return Ok(removed);
        }
        let mut filter = doc! { "status": { "$in": statuses(&wanted) } };
        if let Some(finished) = finished {
            filter.insert("completed_at", finished);
        }
        if let Some(names) = names {
            filter.insert("job_name", names);
        }
        let doomed: Vec<Document> = self
            .jobs
            .find(filter)
            .sort(doc! { "completed_at": 1, "_id": 1 })
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .projection(doc! { "_id": 1, "status": 1 })
            .await
            .map_err(|e| Error::store("finding jobs to remove", e))?
            .try_collect()
            .await
            .map_err(|e| Error::store("finding jobs to remove", e))?;
        let mut by_status: HashMap<JobStatus, Vec<Bson>> = HashMap::new();
        for doc in &doomed {
            let status = status_from_document(doc)?;
            if let Some(id) = doc.get("_id") {
                by_status.entry(status).or_default().push(id.clone());
            }
        }
        for (status, ids) in by_status {
            let result = self
                .jobs
                .delete_many(doc! { "_id": { "$in": ids }, "status": status.as_str() })
                .await
                .map_err(|e| Error::store(format!("removing {status} jobs"), e))?;
            removed.insert(status, result.deleted_count);
        }
        Ok(removed)
    }

    /// One read of the jobs selected, then per 1,000 of them one `updateMany` per
    /// status, each requiring the status read. Jobs that hold a unique key once queued are
    /// retried in a transaction that reads the keys' holders first; a job whose key another
    /// job holds is left as it is.
    async fn retry_jobs(&self, retry: &RetryJobs<'_>) -> Result<StatusCounts> {
        let mut wanted: Vec<JobStatus> = Vec::with_capacity(retry.statuses.len());
        for status in retry.statuses {
            if !wanted.contains(status) {
                wanted.push(*status);
            }
        }
        let mut counts = StatusCounts::new();
        let mut filter = doc! { "status": { "$in": statuses(&wanted) } };
        if let Some(names) = names_filter(&retry.names) {
            filter.insert("job_name", names);
        }
        if let Some(ids) = retry.ids {
            let ids = ids
                .iter()
                .map(|id| object_id(id.as_str()))
                .collect::<Result<Vec<_>>>()?;
            if ids.is_empty() {
                return Ok(counts);
            }
            filter.insert("_id", doc! { "$in": ids });
        }
        if wanted.is_empty() {
            return Ok(counts);
        }
        let context = "finding jobs to retry";
        let docs: Vec<Document> = self
            .jobs
            .find(filter)
            .sort(doc! { "_id": 1 })
            .projection(doc! { "_id": 1, "status": 1, "unique_key": 1, "unique_across": 1 })
            .await
            .map_err(|e| Error::store(context, e))?
            .try_collect()
            .await
            .map_err(|e| Error::store(context, e))?;
        let chosen = docs.iter().map(Chosen::read).collect::<Result<Vec<_>>>()?;
        let (keyed, plain): (Vec<Chosen>, Vec<Chosen>) =
            chosen.into_iter().partition(|c| c.key.is_some());
        for batch in plain.chunks(RETRY_BATCH) {
            for (status, n) in self.retry_plain(batch).await? {
                *counts.entry(status).or_insert(0) += n;
            }
        }
        for batch in keyed.chunks(RETRY_BATCH) {
            for (status, n) in self.retry_keyed(batch).await? {
                *counts.entry(status).or_insert(0) += n;
            }
        }
        if counts.values().any(|n| *n > 0) {
            if let Some(notify) = &self.wakeups {
                wake(notify);
            }
        }
        Ok(counts)
    }

    async fn pause_names(&self, pause: &PauseNames<'_>) -> Result<()> {
        self.pause(pause).await
    }

    async fn paused_names(&self) -> Result<Vec<PausedName>> {
        self.list_paused().await
    }

    async fn acquire_leader(&self, acquire: &AcquireLeader<'_>) -> Result<bool> {
        self.bid(acquire).await
    }

    async fn leaders(&self) -> Result<Vec<Leader>> {
        self.list_leaders().await
    }

    fn wakeups(&self) -> Option<Arc<Notify>> {
        self.wakeups.clone()
    }
}
