//! The job side of the store contract, written once for every dialect.

use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use remote_core::{
    AcquireLeader, CancelJob, ClaimJobs, Error, ErrorRecord, ExpiredLeases, InsertJobs, Inserted,
    Job, JobId, JobNames, JobQuery, JobStatus, JobStore, Leader, Lease, OnConflict, Outcome,
    OutcomeKind, PauseNames, PausedName, RemoveJobs, RenewLeases, Result, RetryJobs, StatusCounts,
    StatusSet,
};
use tokio::sync::Notify;

use crate::batch::{Batch, Then};
use crate::claim::{Claimable, Place};
use crate::engine::{Args, Param, Row};
use crate::insert::Conflicts;
use crate::queries::Q;
use crate::row::{self, json_text, Columns};
use crate::store::{count, raced, with, SqlStore};

/// Jobs deleted (or retried) per transaction by `remove_jobs` (`retry_jobs`), so that no
/// removal holds its locks long.
const CHUNK: usize = 1000;
/// How often a bid for a lease, or a chunk of retried jobs, runs again after a concurrent
/// change broke a unique index (a first bid, a key taken) or deadlocked with it.
const BID_RETRIES: usize = 5;

/// A lease as the fenced statements take it.
fn lease_args(lease: &Lease) -> Args<'_> {
    vec![
        ("id", Param::Text(lease.id.as_str())),
        ("token", Param::Int(lease.token.as_i64())),
    ]
}

/// An outcome as `record_outcome(s)` takes it: every entry has every value, unset where its
/// kind has none.
fn outcome_args<'a>(outcome: &'a Outcome, output: Option<&'a str>) -> Args<'a> {
    let (kind, not_before, record): (&str, _, Option<&ErrorRecord>) = match &outcome.kind {
        OutcomeKind::Completed { .. } => ("completed", None, None),
        OutcomeKind::Retry { record, not_before } => ("retry", Some(*not_before), Some(record)),
        OutcomeKind::Failed { record } => ("failed", None, Some(record)),
        OutcomeKind::Snooze { not_before } => ("snooze", Some(*not_before), None),
    };
    with(
        lease_args(&outcome.lease),
        [
            ("now", Param::Time(outcome.now)),
            ("kind", Param::Text(kind)),
            ("output", Param::OptText(output)),
            ("not_before", Param::OptTime(not_before)),
            ("record_id", Param::OptText(record.map(|r| r.id.as_str()))),
            ("created", Param::OptTime(record.map(|r| r.created))),
            (
                "record_attempt",
                Param::OptInt(record.map(|r| i64::from(r.attempt))),
            ),
            (
                "message",
                Param::OptFree(record.map(|r| r.message.as_str())),
            ),
        ],
    )
}

impl Claimable for Job {
    const STATEMENTS: [Q; 3] = [Q::claim_jobs, Q::pick_jobs, Q::claim_picked_jobs];
    const DECODE: fn(&dyn Columns) -> Result<Self> = row::job;
    /// Pull order (R2, R26): highest priority, then `queued_at`, then id.
    const PLACE: fn(&Self) -> Place<'_> =
        |j| (Reverse(j.priority), Some(j.queued_at), j.id.as_str());
}

/// Which names a call selects, as the statements take it: all, or those in `names` (or, with
/// `except_names`, those not in it).
fn name_args<'a>(names: &JobNames<'a>) -> [(&'static str, Param<'a>); 3] {
    let (all, except, list): (bool, bool, &[String]) = match names {
        JobNames::All => (true, false, &[]),
        JobNames::Only(list) => (false, false, list),
        JobNames::Except(list) => (false, true, list),
    };
    [
        ("all_names", Param::Bool(all)),
        ("except_names", Param::Bool(except)),
        (
            "names",
            Param::Texts(list.iter().map(String::as_str).collect()),
        ),
    ]
}

/// Status names as a list parameter.
fn status_names(statuses: &[JobStatus]) -> Param<'static> {
    Param::Texts(statuses.iter().map(|s| s.as_str()).collect())
}

/// The rows decoded by `decode`.
pub(crate) fn decode<T>(
    rows: &[Row],
    decode: impl Fn(&dyn row::Columns) -> Result<T>,
) -> Result<Vec<T>> {
    rows.iter().map(|r| decode(r.as_ref())).collect()
}

impl SqlStore {
    /// Retries the next chunk of the jobs `retry` selects, those with ids after `after`, in
    /// one transaction, trying again when a concurrent insert took a key meanwhile; the last id
    /// read when the chunk was full (more may follow), and the counts per status before.
    async fn retry_some(
        &self,
        retry: &RetryJobs<'_>,
        after: &str,
    ) -> Result<(Option<String>, StatusCounts)> {
        let ids = retry.ids.unwrap_or_default();
        let mut args = vec![
            ("all_ids", Param::Bool(retry.ids.is_none())),
            ("ids", Param::Texts(ids.iter().map(JobId::as_str).collect())),
            ("statuses", status_names(retry.statuses)),
            ("after", Param::Text(after)),
            ("limit", Param::Int(count(CHUNK))),
        ];
        args.extend(name_args(&retry.names));
        let mut tries = 0;
        loop {
            match self.retry_chunk(&args).await {
                Err(e) if raced(&e) && tries < BID_RETRIES => tries += 1,
                done => return done,
            }
        }
    }

    /// One chunk of `retry_jobs` (R30): reads the candidates (locked), leaves out those whose
    /// key another job holds or an earlier candidate takes (R27), puts the others back.
    async fn retry_chunk(
        &self,
        args: &[(&str, Param<'_>)],
    ) -> Result<(Option<String>, StatusCounts)> {
        let mut tx = self.inner.begin().await?;
        let rows = tx.rows(Q::retryable_jobs, args).await?;
        let candidates = decode(&rows, |r| {
            let id = row::text(r, "id")?;
            let id =
                JobId::parse(&id).map_err(|e| Error::store("column id holds a malformed id", e))?;
            let status = row::status(&row::text(r, "status")?)?;
            let across = u8::try_from(row::int(r, "unique_across")?)
                .map_err(|e| Error::store("column unique_across holds no status bits", e))?;
            // The key the job would hold once queued again.
            let key = r
                .text("unique_key")?
                .filter(|_| StatusSet::from_bits(across).contains(JobStatus::Queued));
            Ok((id, status, key))
        })?;
        let keys: HashSet<&str> = candidates.iter().filter_map(|c| c.2.as_deref()).collect();
        let conflicts = if keys.is_empty() {
            Conflicts::default()
        } else {
            Conflicts::read(&mut tx, Vec::new(), keys.into_iter().collect()).await?
        };
        let mut taken: HashMap<&str, &JobId> = HashMap::new();
        let mut chosen = Vec::new();
        let mut counts = StatusCounts::new();
        for (id, status, key) in &candidates {
            if let Some(key) = key.as_deref() {
                let other = conflicts.holder(key, Some(id)).is_some()
                    || taken.get(key).is_some_and(|holder| *holder != id);
                if other {
                    continue;
                }
                taken.insert(key, id);
            }
            chosen.push(id.as_str());
            *counts.entry(*status).or_insert(0) += 1;
        }
        if !chosen.is_empty() {
            tx.run(Q::retry_picked_jobs, &[("ids", Param::Texts(chosen))])
                .await?;
        }
        tx.commit().await?;
        let last = candidates
            .last()
            .filter(|_| candidates.len() == CHUNK)
            .map(|(id, _, _)| id.to_string());
        Ok((last, counts))
    }

    /// One bid for a named lease (R33), in one transaction: the lease read and locked, then
    /// written when it is free or the bidder's. A concurrent first bid for a lease never held
    /// breaks its key; the bid then runs again and finds it held.
    async fn bid(&self, acquire: &AcquireLeader<'_>, args: &[(&str, Param<'_>)]) -> Result<bool> {
        let mut tx = self.inner.begin().await?;
        let rows = tx.rows(Q::lock_leader, args).await?;
        let write = match rows.first() {
            None => Some(Q::insert_leader),
            Some(r) => {
                let holder = row::text(r.as_ref(), "holder")?;
                let until = r.time("until")?;
                let free = until.is_none_or(|until| until <= acquire.now);
                (free || holder == acquire.holder).then_some(Q::update_leader)
            }
        };
        if let Some(write) = write {
            tx.run(write, args).await?;
        }
        tx.commit().await?;
        Ok(write.is_some())
    }

    /// Ends attempts as `record_outcomes` does; `rescue`: only those whose lease expired.
    async fn end_attempts(&self, outcomes: &[Outcome], rescue: bool) -> Result<Vec<bool>> {
        let outputs = outcomes
            .iter()
            .map(|o| match &o.kind {
                OutcomeKind::Completed { output } => json_text(output).map(Some),
                _ => Ok(None),
            })
            .collect::<Result<Vec<_>>>()?;
        self.inner
            .apply(Batch {
                all: Q::record_outcomes,
                pick: Q::pick_outcomes,
                each: Q::record_outcome,
                then: Some(Then {
                    each: Q::add_error,
                    all: Q::add_errors,
                    flags: outcomes
                        .iter()
                        .map(|o| {
                            matches!(
                                o.kind,
                                OutcomeKind::Retry { .. } | OutcomeKind::Failed { .. }
                            )
                        })
                        .collect(),
                }),
                keys: outcomes.iter().map(|o| o.lease.id.as_str()).collect(),
                entries: outcomes
                    .iter()
                    .zip(&outputs)
                    .map(|(o, output)| outcome_args(o, output.as_deref()))
                    .collect(),
                shared: vec![("rescue", Param::Bool(rescue))],
                first_only: false,
            })
            .await
    }

    /// Applies a change fenced by each lease.
    async fn fenced(
        &self,
        all: Q,
        each: Q,
        leases: &[Lease],
        shared: Args<'_>,
    ) -> Result<Vec<bool>> {
        self.inner
            .apply(Batch {
                all,
                pick: Q::pick_leases,
                each,
                then: None,
                keys: leases.iter().map(|l| l.id.as_str()).collect(),
                entries: leases.iter().map(lease_args).collect(),
                shared,
                first_only: false,
            })
            .await
    }

    /// Deletes up to `limit` jobs `remove` selects, in one transaction; counts per status.
    async fn remove_some(
        &self,
        remove: &RemoveJobs<'_>,
        limit: usize,
    ) -> Result<(usize, StatusCounts)> {
        let select = match remove.finished_before {
            Some(_) => Q::removable_jobs_before,
            None => Q::removable_jobs,
        };
        let mut args = vec![
            ("statuses", status_names(remove.statuses)),
            ("before", Param::OptTime(remove.finished_before)),
            ("limit", Param::Int(count(limit))),
        ];
        args.extend(name_args(&remove.names));
        let mut tx = self.inner.begin().await?;
        let rows = tx.rows(select, &args).await?;
        if rows.is_empty() {
            tx.commit().await?;
            return Ok((0, StatusCounts::new()));
        }
        let ids = decode(&rows, |r| row::text(r, "id"))?;
        let ids = vec![(
            "ids",
            Param::Texts(ids.iter().map(String::as_str).collect()),
        )];
        tx.run(Q::remove_errors, &ids).await?;
        tx.run(Q::remove_jobs, &ids).await?;
        tx.commit().await?;
        let mut counts = StatusCounts::new();
        for r in &rows {
            *counts
                .entry(row::status(&row::text(r.as_ref(), "status")?)?)
                .or_insert(0) += 1;
        }
        Ok((rows.len(), counts))
    }
}

#[async_trait]
impl JobStore for SqlStore {
    async fn insert_jobs(&self, insert: &InsertJobs<'_>) -> Result<Vec<Inserted>> {
        let skip = insert.on_conflict == OnConflict::Skip;
        self.inner.insert(insert.jobs, skip).await
    }

    async fn claim_jobs(&self, claim: &ClaimJobs<'_>) -> Result<Vec<Job>> {
        if claim.names.is_empty() || claim.limit == 0 {
            return Ok(Vec::new());
        }
        let args = vec![
            ("now", Param::Time(claim.now)),
            ("lease_until", Param::Time(claim.lease_until)),
            ("token", Param::Int(claim.token.as_i64())),
            (
                "names",
                Param::Texts(claim.names.iter().map(String::as_str).collect()),
            ),
            ("limit", Param::Int(count(claim.limit))),
        ];
        self.inner
            .claim(args, |job: &mut Job| {
                job.status = JobStatus::Processing;
                job.picked_at = Some(claim.now);
                job.attempt = job.attempt.saturating_add(1);
                job.lease_until = Some(claim.lease_until);
                job.lease_token = Some(claim.token);
            })
            .await
    }

    async fn record_outcomes(&self, outcomes: &[Outcome]) -> Result<Vec<bool>> {
        self.end_attempts(outcomes, false).await
    }

    async fn rescue_jobs(&self, outcomes: &[Outcome]) -> Result<Vec<bool>> {
        self.end_attempts(outcomes, true).await
    }

    async fn release_jobs(&self, leases: &[Lease]) -> Result<Vec<bool>> {
        self.fenced(Q::release_jobs, Q::release_job, leases, Vec::new())
            .await
    }

    async fn renew_leases(&self, renew: &RenewLeases<'_>) -> Result<Vec<bool>> {
        let shared = vec![("lease_until", Param::Time(renew.lease_until))];
        self.fenced(Q::renew_leases, Q::renew_lease, renew.leases, shared)
            .await
    }

    async fn expired_leases(&self, query: &ExpiredLeases) -> Result<Vec<Job>> {
        let args = [
            ("now", Param::Time(query.now)),
            ("limit", Param::Int(count(query.limit))),
        ];
        decode(&self.inner.rows(Q::expired_leases, &args).await?, row::job)
    }

    async fn cancel_job(&self, cancel: &CancelJob<'_>) -> Result<Option<JobStatus>> {
        let args = [
            ("id", Param::Text(cancel.id.as_str())),
            ("now", Param::Time(cancel.now)),
        ];
        let mut tx = self.inner.begin().await?;
        let rows = tx.rows(Q::job_status, &args).await?;
        let was = rows
            .first()
            .map(|r| row::text(r.as_ref(), "status").and_then(|s| row::status(&s)))
            .transpose()?;
        if was.is_some_and(|was| cancel.cancellable.contains(&was)) {
            tx.run(Q::cancel_job, &args).await?;
        }
        // Committed either way: a transaction left to roll back when its connection is next
        // used would hold the row's lock until then.
        tx.commit().await?;
        Ok(was)
    }

    async fn get_job(&self, id: &JobId) -> Result<Option<Job>> {
        let rows = self.inner.rows_of(Q::get_job, id.as_str()).await?;
        rows.first().map(|r| row::job(r.as_ref())).transpose()
    }

    async fn job_errors(&self, id: &JobId) -> Result<Option<Vec<ErrorRecord>>> {
        let rows = self.inner.rows_of(Q::job_errors, id.as_str()).await?;
        if rows.is_empty() {
            return Ok(None);
        }
        let records = decode(&rows, row::record)?;
        Ok(Some(records.into_iter().flatten().collect()))
    }

    async fn list_jobs(&self, query: &JobQuery) -> Result<Vec<Job>> {
        let list = if query.oldest_first {
            Q::list_jobs_oldest
        } else {
            Q::list_jobs_newest
        };
        let number = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let args = [
            ("statuses", status_names(&query.statuses)),
            ("job_name", Param::OptText(query.job_name.as_deref())),
            ("limit", Param::Int(query.limit.map_or(i64::MAX, number))),
            ("offset", Param::Int(number(query.offset))),
        ];
        decode(&self.inner.rows(list, &args).await?, row::job)
    }

    async fn count_jobs(&self) -> Result<StatusCounts> {
        row::counts(&self.inner.rows(Q::count_jobs, &[]).await?)
    }

    async fn remove_jobs(&self, remove: &RemoveJobs<'_>) -> Result<StatusCounts> {
        let mut removed = StatusCounts::new();
        let mut left = remove.limit.unwrap_or(usize::MAX);
        while left > 0 {
            let chunk = left.min(CHUNK);
            let (n, counts) = self.remove_some(remove, chunk).await?;
            for (status, k) in counts {
                *removed.entry(status).or_insert(0) += k;
            }
            left -= n;
            if n < chunk {
                break;
            }
        }
        Ok(removed)
    }

    async fn reclaim_space(&self) -> Result<()> {
        if self.inner.engine.dialect().vacuums {
            self.inner.run(Q::vacuum_jobs, &[]).await?;
        }
        Ok(())
    }

    async fn retry_jobs(&self, retry: &RetryJobs<'_>) -> Result<StatusCounts> {
        let mut retried = StatusCounts::new();
        let mut after = String::new();
        loop {
            let (last, counts) = self.retry_some(retry, &after).await?;
            for (status, n) in counts {
                *retried.entry(status).or_insert(0) += n;
            }
            match last {
                Some(last) => after = last,
                None => return Ok(retried),
            }
        }
    }

    async fn pause_names(&self, pause: &PauseNames<'_>) -> Result<()> {
        let (q, mut args) = if pause.paused {
            (Q::pause_names, vec![("now", Param::Time(pause.now))])
        } else {
            (Q::resume_names, Vec::new())
        };
        let names = pause.names.iter().map(String::as_str).collect();
        args.push(("names", Param::Texts(names)));
        self.inner.run(q, &args).await.map(drop)
    }

    async fn paused_names(&self) -> Result<Vec<PausedName>> {
        decode(&self.inner.rows(Q::paused_names, &[]).await?, row::paused)
    }

    async fn acquire_leader(&self, acquire: &AcquireLeader<'_>) -> Result<bool> {
        let note = acquire.note.map(json_text).transpose()?;
        let args = [
            ("name", Param::Text(acquire.name)),
            ("holder", Param::Text(acquire.holder)),
            ("until", Param::Time(acquire.until)),
            ("now", Param::Time(acquire.now)),
            ("note", Param::OptText(note.as_deref())),
        ];
        let mut tries = 0;
        loop {
            match self.bid(acquire, &args).await {
                Err(e) if raced(&e) && tries < BID_RETRIES => tries += 1,
                answered => return answered,
            }
        }
    }

    async fn leaders(&self) -> Result<Vec<Leader>> {
        decode(&self.inner.rows(Q::leaders, &[]).await?, row::leader)
    }

    fn wakeups(&self) -> Option<Arc<Notify>> {
        self.inner.engine.wakeups()
    }
}
