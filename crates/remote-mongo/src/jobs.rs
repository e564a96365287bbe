//! The job side: atomic claims and lease-fenced outcomes, and change-stream wakeups.

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use mongodb::bson::{doc, Bson, Document};
use mongodb::change_stream::event::ChangeStreamEvent;
use mongodb::change_stream::ChangeStream;
use mongodb::error::ErrorKind;
use mongodb::options::{Hint, ReturnDocument};
use mongodb::Collection;
use remote_core::__private::async_trait;
use remote_core::{
    Claim, Error, ErrorRecord, Failure, Job, JobId, JobQuery, JobStatus, JobStore, LeaseToken,
    Result, StatusCounts,
};
use serde_json::Value;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::config::{MongoStore, CLAIM_INDEX};
use crate::documents::{
    date, job_from_document, json_text, object_id, record_document, records_from_document,
    retry_time_passed, status_from_document,
};

/// Most conditional claim updates of one `claim_jobs` call in flight at once.
const MAX_CONCURRENT_CLAIMS: usize = 16;
/// Candidates read beyond a claim's limit, so that a claim losing a few jobs to other workers
/// takes the next ones without another sorted read.
const CANDIDATE_SLACK: usize = 16;

impl MongoStore {
    /// The claim of `claim_jobs`, pushing each job into `claimed` as soon as it is taken.
    async fn claim_into(&self, claim: &Claim<'_>, claimed: &mut Vec<Job>) -> Result<()> {
        let claimable = doc! {
            "status": JobStatus::Queued.as_str(),
            "retry_time": retry_time_passed(claim.now),
        };
        let mut read = claimable.clone();
        read.insert("job_name", doc! { "$in": claim.names });
        let update = doc! {
            "$set": {
                "status": JobStatus::Processing.as_str(),
                "picked_at": date(claim.now),
                "lease_until": date(claim.lease_until),
                "lease_token": claim.token.0,
            },
            "$inc": { "retry_counter": 1_i64 },
        };
        loop {
            let asked = claim.limit - claimed.len() + CANDIDATE_SLACK;
            let candidates: Vec<Document> = self
                .jobs
                .find(read.clone())
                .sort(doc! { "queued_at": 1, "_id": 1 })
                .hint(Hint::Name(CLAIM_INDEX.to_owned()))
                .projection(doc! { "_id": 1 })
                .limit(i64::try_from(asked).unwrap_or(i64::MAX))
                .await
                .map_err(|e| Error::store("reading claim candidates", e))?
                .try_collect()
                .await
                .map_err(|e| Error::store("reading claim candidates", e))?;
            let mut ids = candidates.iter().filter_map(|c| c.get("_id").cloned());
            while claimed.len() < claim.limit {
                let wanted = (claim.limit - claimed.len()).min(MAX_CONCURRENT_CLAIMS);
                let round: Vec<Bson> = ids.by_ref().take(wanted).collect();
                if round.is_empty() {
                    break;
                }
                let found = futures::future::join_all(round.into_iter().map(|id| {
                    let mut filter = claimable.clone();
                    filter.insert("_id", id);
                    self.jobs
                        .find_one_and_update(filter, update.clone())
                        .projection(without_errors())
                        .return_document(ReturnDocument::After)
                        .into_future()
                }))
                .await;
                let mut failed = None;
                for found in found {
                    match found {
                        Ok(Some(doc)) => match job_from_document(&doc) {
                            Ok(job) => claimed.push(job),
                            Err(e) => failed = Some(e),
                        },
                        Ok(None) => {}
                        Err(e) => failed = Some(Error::store("claiming a job", e)),
                    }
                }
                if let Some(e) = failed {
                    return Err(e);
                }
            }
            if claimed.len() == claim.limit || candidates.len() < asked {
                return Ok(());
            }
        }
    }
}

/// The position of the first document an `insert_many` refused for a duplicate `_id`.
fn refused_as_duplicate(error: &mongodb::error::Error) -> Option<usize> {
    match error.kind.as_ref() {
        ErrorKind::InsertMany(failure) => failure
            .write_errors
            .as_ref()?
            .iter()
            .find(|write| write.code == DUPLICATE_KEY)
            .map(|write| write.index),
        _ => None,
    }
}

/// The server's error code for a duplicate key.
const DUPLICATE_KEY: i32 = 11000;

/// Jobs are read without their error records, which only `job_errors` returns.
fn without_errors() -> Document {
    doc! { "errors": 0 }
}

/// The filter of a running attempt: `processing` under `token` (R8).
fn leased(id: &JobId, token: LeaseToken) -> Result<Document> {
    Ok(doc! {
        "_id": object_id(id.as_str())?,
        "status": JobStatus::Processing.as_str(),
        "lease_token": token.0,
    })
}

fn statuses(list: &[JobStatus]) -> Vec<&'static str> {
    list.iter().map(|s| s.as_str()).collect()
}

async fn collect_jobs(cursor: mongodb::Cursor<Document>, context: &str) -> Result<Vec<Job>> {
    let docs: Vec<Document> = cursor
        .try_collect()
        .await
        .map_err(|e| Error::store(context.to_owned(), e))?;
    docs.iter().map(job_from_document).collect()
}

#[async_trait]
impl JobStore for MongoStore {
    async fn insert_jobs(&self, jobs: &[Job]) -> Result<()> {
        if jobs.is_empty() {
            return Ok(());
        }
        let docs = jobs
            .iter()
            .map(crate::documents::job_document)
            .collect::<Result<Vec<_>>>()?;
        self.jobs.insert_many(docs).ordered(true).await.map_err(
            |e| match refused_as_duplicate(&e).and_then(|i| jobs.get(i)) {
                Some(job) => Error::JobExists(job.id.clone()),
                None => Error::store("inserting jobs", e),
            },
        )?;
        Ok(())
    }

    /// One sorted read of candidate ids in pull order, then a conditional update per candidate
    /// by `_id` that re-checks it is still claimable; candidates other workers took are skipped,
    /// and the read is repeated while the claim is short and the last read came back full.
    /// When a call fails after jobs were claimed, those jobs are returned, so that none waits
    /// for its lease to expire; the error shows on the next claim.
    async fn claim_jobs(&self, claim: &Claim<'_>) -> Result<Vec<Job>> {
        let mut claimed = Vec::new();
        if claim.names.is_empty() || claim.limit == 0 {
            return Ok(claimed);
        }
        if let Err(e) = self.claim_into(claim, &mut claimed).await {
            if claimed.is_empty() {
                return Err(e);
            }
            warn!(
                "claim cut short, keeping the {} jobs claimed: {e}",
                claimed.len()
            );
        }
        claimed.sort_by(|a, b| (a.queued_at, &a.id).cmp(&(b.queued_at, &b.id)));
        Ok(claimed)
    }

    async fn complete_job(
        &self,
        id: &JobId,
        token: LeaseToken,
        output: &Value,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let update = doc! {
            "$set": {
                "status": JobStatus::Completed.as_str(),
                "output": json_text(output)?,
                "completed_at": date(now),
                "lease_until": Bson::Null,
                "lease_token": Bson::Null,
            },
        };
        let result = self
            .jobs
            .update_one(leased(id, token)?, update)
            .await
            .map_err(|e| Error::store(format!("completing job {id}"), e))?;
        Ok(result.matched_count == 1)
    }

    async fn fail_job(&self, id: &JobId, token: LeaseToken, failure: &Failure) -> Result<bool> {
        let mut filter = leased(id, token)?;
        if failure.lease_expired {
            filter.insert("lease_until", doc! { "$not": { "$gt": date(failure.now) } });
        }
        let mut set = doc! { "lease_until": Bson::Null, "lease_token": Bson::Null };
        match failure.retry_at {
            Some(at) => {
                set.insert("status", JobStatus::Queued.as_str());
                set.insert("retry_time", date(at));
            }
            None => {
                set.insert("status", JobStatus::Error.as_str());
                set.insert("completed_at", date(failure.now));
            }
        }
        let update = doc! {
            "$set": set,
            "$push": { "errors": record_document(&failure.record)? },
        };
        let result = self
            .jobs
            .update_one(filter, update)
            .await
            .map_err(|e| Error::store(format!("recording a failure of job {id}"), e))?;
        Ok(result.matched_count == 1)
    }

    async fn renew_lease(
        &self,
        id: &JobId,
        token: LeaseToken,
        lease_until: DateTime<Utc>,
    ) -> Result<bool> {
        let result = self
            .jobs
            .update_one(
                leased(id, token)?,
                doc! { "$set": { "lease_until": date(lease_until) } },
            )
            .await
            .map_err(|e| Error::store(format!("renewing the lease of job {id}"), e))?;
        Ok(result.matched_count == 1)
    }

    async fn expired_leases(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Job>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let cursor = self
            .jobs
            .find(doc! {
                "status": JobStatus::Processing.as_str(),
                "lease_until": { "$lte": date(now) },
            })
            .sort(doc! { "lease_until": 1, "_id": 1 })
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .projection(without_errors())
            .await
            .map_err(|e| Error::store("finding expired leases", e))?;
        collect_jobs(cursor, "reading expired leases").await
    }

    async fn cancel_job(&self, id: &JobId, now: DateTime<Utc>) -> Result<Option<JobStatus>> {
        let oid = object_id(id.as_str())?;
        let live = statuses(&[JobStatus::Queued, JobStatus::Processing]);
        let before = self
            .jobs
            .find_one_and_update(
                doc! { "_id": oid, "status": { "$in": live } },
                doc! {
                    "$set": {
                        "status": JobStatus::Cancelled.as_str(),
                        "completed_at": date(now),
                        "lease_until": Bson::Null,
                        "lease_token": Bson::Null,
                    },
                },
            )
            .projection(doc! { "status": 1 })
            .return_document(ReturnDocument::Before)
            .await
            .map_err(|e| Error::store(format!("cancelling job {id}"), e))?;
        let doc = match before {
            Some(doc) => doc,
            None => match self
                .jobs
                .find_one(doc! { "_id": oid })
                .projection(doc! { "status": 1 })
                .await
                .map_err(|e| Error::store(format!("reading job {id}"), e))?
            {
                Some(doc) => doc,
                None => return Ok(None),
            },
        };
        status_from_document(&doc).map(Some)
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

    async fn remove_jobs(&self, statuses: &[JobStatus]) -> Result<StatusCounts> {
        let mut removed = StatusCounts::new();
        for status in statuses {
            if removed.contains_key(status) {
                continue;
            }
            let result = self
                .jobs
                .delete_many(doc! { "status": status.as_str() })
                .await
                .map_err(|e| Error::store(format!("removing {status} jobs"), e))?;
            removed.insert(*status, result.deleted_count);
        }
        Ok(removed)
    }

    fn wakeups(&self) -> Option<Arc<Notify>> {
        self.wakeups.clone()
    }
}

/// The background task turning inserts seen on the change stream into wakeups; aborted when
/// the last clone of the store is dropped.
pub(crate) struct Watcher(JoinHandle<()>);

impl Drop for Watcher {
    fn drop(&mut self) {
        self.0.abort();
    }
}

type Inserts = ChangeStream<ChangeStreamEvent<Document>>;

/// A change stream of inserts into `jobs` that carries no documents, only the fact.
async fn watch_inserts(jobs: &Collection<Document>) -> mongodb::error::Result<Inserts> {
    jobs.watch()
        .pipeline([
            doc! { "$match": { "operationType": "insert" } },
            doc! { "$project": { "_id": 1, "operationType": 1 } },
        ])
        .await
}

/// The server's reason when the deployment has no change streams (a standalone server, for
/// one); `None` for other errors, which are retried.
fn unsupported(error: &mongodb::error::Error) -> Option<String> {
    match &*error.kind {
        ErrorKind::Command(e) if matches!(e.code, 20 | 115 | 40573) => {
            Some(format!("{} (code {})", e.message, e.code))
        }
        _ => None,
    }
}

/// Opens the change stream on `jobs` before returning, so a job added after the store is
/// open wakes this process; `None` (polling) when the deployment has no change streams.
pub(crate) async fn open_wakeups(jobs: &Collection<Document>) -> Option<(Arc<Notify>, Watcher)> {
    let first = match watch_inserts(jobs).await {
        Ok(stream) => Some(stream),
        Err(e) => {
            if let Some(reason) = unsupported(&e) {
                info!("MongoDB change streams are not available: {reason}; idle workers poll");
                return None;
            }
            warn!(
                "Could not open a change stream on '{}' yet: {e}",
                jobs.name()
            );
            None
        }
    };
    let notify = Arc::new(Notify::new());
    let task = tokio::spawn(wake_on_inserts(jobs.clone(), notify.clone(), first));
    Some((notify, Watcher(task)))
}

/// Wakes every idle worker, and leaves a permit for one that is about to idle.
fn wake(notify: &Notify) {
    notify.notify_waiters();
    notify.notify_one();
}

/// Wakes workers on every insert; reopens the stream with backoff when it breaks (waking the
/// workers, since inserts may have been missed), and stops for good if the deployment turns out
/// to lack change streams.
async fn wake_on_inserts(jobs: Collection<Document>, notify: Arc<Notify>, first: Option<Inserts>) {
    const MIN_BACKOFF: Duration = Duration::from_millis(100);
    const MAX_BACKOFF: Duration = Duration::from_secs(30);
    let mut backoff = MIN_BACKOFF;
    let mut next = first;
    loop {
        let mut stream = match next.take() {
            Some(stream) => stream,
            None => {
                match watch_inserts(&jobs).await {
                    Ok(stream) => {
                        wake(&notify);
                        stream
                    }
                    Err(e) => {
                        if let Some(reason) = unsupported(&e) {
                            info!("MongoDB change streams are not available: {reason}; idle workers poll");
                            return;
                        }
                        warn!("Could not open a change stream on '{}': {e}", jobs.name());
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                        continue;
                    }
                }
            }
        };
        while let Some(event) = stream.next().await {
            match event {
                Ok(_) => {
                    backoff = MIN_BACKOFF;
                    wake(&notify);
                }
                Err(e) => {
                    warn!("The change stream on '{}' broke: {e}", jobs.name());
                    break;
                }
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
