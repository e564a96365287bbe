//! The job side: each call is one script, so every state change is atomic and every batch is
//! one round trip (a claim too: its script returns the claimed jobs; only jobs written before
//! layout 5 are read back after it).

use std::sync::Arc;

use remote_core::__private::async_trait;
use remote_core::{
    AcquireLeader, CancelJob, ClaimJobs, Error, ErrorRecord, ExpiredLeases, InsertJobs, Inserted,
    Job, JobId, JobNames, JobQuery, JobStatus, JobStore, Leader, Lease, OnConflict, Outcome,
    OutcomeKind, PauseNames, PausedName, RemoveJobs, RenewLeases, Result, RetryJobs, StatusCounts,
};
use tokio::sync::Notify;

use crate::codec::{self, millis, Args, Claimed};
use crate::scripts::SCRIPTS;
use crate::store::{RedisStore, DELETE_BATCH};

/// A count or offset as a script argument: capped at 2^50, which Lua's numbers and Redis's
/// integers both hold exactly.
pub(crate) fn count_arg(n: u64) -> Vec<u8> {
    n.min(1 << 50).to_string().into_bytes()
}

fn usize_arg(n: usize) -> Vec<u8> {
    count_arg(u64::try_from(n).unwrap_or(u64::MAX))
}

/// Each value once, in first-seen order.
fn distinct<T: PartialEq + Clone>(values: &[T]) -> Vec<T> {
    let mut seen: Vec<T> = Vec::with_capacity(values.len());
    for value in values {
        if !seen.contains(value) {
            seen.push(value.clone());
        }
    }
    seen
}

/// A name filter as script arguments: `all`, `only` or `except`, the number of names, the
/// names.
fn names_args(args: &mut Args, names: &JobNames<'_>) {
    let (mode, listed): (&str, &[String]) = match names {
        JobNames::All => ("all", &[]),
        JobNames::Only(names) => ("only", names),
        JobNames::Except(names) => ("except", names),
    };
    let listed = distinct(listed);
    args.push(mode.into());
    args.push(listed.len().to_string().into_bytes());
    args.extend(listed.into_iter().map(String::into_bytes));
}

/// Adds the `status, count` pairs that close a script's reply to `counts`.
fn add_counts(
    counts: &mut StatusCounts,
    pairs: impl Iterator<Item = redis::Value>,
    what: &str,
) -> Result<()> {
    let mut pairs = pairs;
    while let (Some(status), Some(count)) = (pairs.next(), pairs.next()) {
        let status = codec::text(status, what)?;
        let status: JobStatus = status
            .parse()
            .map_err(|e| Error::store(format!("{what}: status '{status}'"), e))?;
        let count = u64::try_from(codec::int(&count, what)?).unwrap_or(0);
        *counts.entry(status).or_insert(0) += count;
    }
    Ok(())
}

/// Jobs retried per script call when a retry selects by status.
const RETRY_BATCH: usize = 1_000;

fn lease_args(args: &mut Args, leases: &[Lease]) {
    for lease in leases {
        args.push(lease.id.as_str().into());
        args.push(lease.token.as_i64().to_string().into_bytes());
    }
}

impl RedisStore {
    /// Ends attempts as `record_outcomes` does; with `rescue`, each only while its lease has
    /// ended at the entry's `now`.
    async fn end_attempts(&self, outcomes: &[Outcome], rescue: bool) -> Result<Vec<bool>> {
        if outcomes.is_empty() {
            return Ok(Vec::new());
        }
        let mut args: Args = Vec::with_capacity(1 + 6 * outcomes.len());
        args.push(if rescue { "1" } else { "0" }.into());
        for outcome in outcomes {
            let (kind, payload, not_before) = match &outcome.kind {
                OutcomeKind::Completed { output } => {
                    ("completed", codec::output_text(output)?, None)
                }
                OutcomeKind::Retry { record, not_before } => {
                    ("retry", codec::record_text(record)?, Some(*not_before))
                }
                OutcomeKind::Failed { record } => ("failed", codec::record_text(record)?, None),
                OutcomeKind::Snooze { not_before } => ("snooze", Vec::new(), Some(*not_before)),
            };
            args.push(outcome.lease.id.as_str().into());
            args.push(outcome.lease.token.as_i64().to_string().into_bytes());
            args.push(millis(outcome.now).into_bytes());
            args.push(kind.into());
            args.push(payload);
            args.push(not_before.map(millis).unwrap_or_default().into_bytes());
        }
        let what = if rescue {
            "rescuing jobs of lost workers"
        } else {
            "recording outcomes"
        };
        let reply = self.eval(&SCRIPTS.end_attempts, args, what).await?;
        codec::flags(reply, outcomes.len(), what)
    }
}

#[async_trait]
impl JobStore for RedisStore {
    async fn insert_jobs(&self, insert: &InsertJobs<'_>) -> Result<Vec<Inserted>> {
        if insert.jobs.is_empty() {
            return Ok(Vec::new());
        }
        let mut args: Args = vec![match insert.on_conflict {
            OnConflict::Refuse => "refuse".into(),
            OnConflict::Skip => "skip".into(),
        }];
        for job in insert.jobs {
            let fields = codec::job_fields(job)?;
            args.push(job.id.as_str().into());
            args.push(fields.len().to_string().into_bytes());
            for (name, value) in fields {
                args.push(name.into());
                args.push(value);
            }
        }
        let what = "inserting jobs";
        let reply = self.eval(&SCRIPTS.insert_jobs, args, what).await?;
        let mut values = codec::array(reply, what)?.into_iter();
        let Some(first) = values.next() else {
            return Err(Error::store_msg(format!("{what}: empty reply")));
        };
        if codec::int(&first, what)? == 0 {
            let id = values
                .next()
                .ok_or_else(|| Error::store_msg(format!("{what}: refused without an id")))?;
            let id = JobId::parse(&codec::text(id, what)?)
                .map_err(|e| Error::store(format!("{what}: refused a malformed id"), e))?;
            return Err(Error::JobExists(id));
        }
        let inserted = values
            .map(|answer| match answer {
                redis::Value::Int(1) => Ok(Inserted::Stored),
                redis::Value::Int(0) => Ok(Inserted::Skipped),
                holder => {
                    let holder = codec::text(holder, what)?;
                    JobId::parse(&holder)
                        .map(Inserted::Duplicate)
                        .map_err(|e| Error::store(format!("{what}: a holder '{holder}'"), e))
                }
            })
            .collect::<Result<Vec<Inserted>>>()?;
        if inserted.len() != insert.jobs.len() {
            return Err(Error::store_msg(format!(
                "{what}: {} answers for {} jobs",
                inserted.len(),
                insert.jobs.len()
            )));
        }
        if inserted.iter().any(Inserted::is_stored) {
            self.wake_local();
        }
        Ok(inserted)
    }

    async fn claim_jobs(&self, claim: &ClaimJobs<'_>) -> Result<Vec<Job>> {
        if claim.names.is_empty() || claim.limit == 0 {
            return Ok(Vec::new());
        }
        let mut args: Args = vec![
            millis(claim.now).into_bytes(),
            millis(claim.lease_until).into_bytes(),
            claim.token.as_i64().to_string().into_bytes(),
            usize_arg(claim.limit),
        ];
        args.extend(distinct(claim.names).into_iter().map(String::into_bytes));
        let what = "claiming jobs";
        let reply = self.eval(&SCRIPTS.claim_jobs, args, what).await?;
        let claimed = codec::claimed(reply, claim.now, claim.lease_until, claim.token, what)?;
        let mut pipe = redis::pipe();
        for job in &claimed {
            if let Claimed::Unread(id) = job {
                pipe.cmd("HGETALL").arg(format!("{}:job:{id}", self.base()));
            }
        }
        let mut unread = Vec::new().into_iter();
        if !pipe.is_empty() {
            let mut conn = self.connection();
            let read: Vec<redis::Value> = pipe
                .query_async(&mut conn)
                .await
                .map_err(|e| Error::store(what, e))?;
            unread = read.into_iter();
        }
        // A job removed between the claim and its read-back is left out, as removed.
        claimed
            .into_iter()
            .filter_map(|job| match job {
                Claimed::Job(job) => Some(Ok(job)),
                Claimed::Unread(_) => unread.next().and_then(|v| codec::job(v).transpose()),
            })
            .collect()
    }

    async fn record_outcomes(&self, outcomes: &[Outcome]) -> Result<Vec<bool>> {
        self.end_attempts(outcomes, false).await
    }

    async fn rescue_jobs(&self, outcomes: &[Outcome]) -> Result<Vec<bool>> {
        self.end_attempts(outcomes, true).await
    }

    async fn release_jobs(&self, leases: &[Lease]) -> Result<Vec<bool>> {
        if leases.is_empty() {
            return Ok(Vec::new());
        }
        let mut args: Args = Vec::with_capacity(2 * leases.len());
        lease_args(&mut args, leases);
        let what = "releasing jobs";
        let reply = self.eval(&SCRIPTS.release_jobs, args, what).await?;
        let released = codec::flags(reply, leases.len(), what)?;
        if released.contains(&true) {
            self.wake_local();
        }
        Ok(released)
    }

    async fn renew_leases(&self, renew: &RenewLeases<'_>) -> Result<Vec<bool>> {
        if renew.leases.is_empty() {
            return Ok(Vec::new());
        }
        let mut args: Args = vec![millis(renew.lease_until).into_bytes()];
        lease_args(&mut args, renew.leases);
        let what = "renewing leases";
        let reply = self.eval(&SCRIPTS.renew_leases, args, what).await?;
        codec::flags(reply, renew.leases.len(), what)
    }

    async fn expired_leases(&self, query: &ExpiredLeases) -> Result<Vec<Job>> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let args: Args = vec![millis(query.now).into_bytes(), usize_arg(query.limit)];
        let what = "reading expired leases";
        let reply = self.eval(&SCRIPTS.expired_leases, args, what).await?;
        codec::jobs(reply, what)
    }

    async fn cancel_job(&self, cancel: &CancelJob<'_>) -> Result<Option<JobStatus>> {
        let mut args: Args = vec![cancel.id.as_str().into(), millis(cancel.now).into_bytes()];
        args.extend(cancel.cancellable.iter().map(|s| s.as_str().into()));
        let what = format!("cancelling job {}", cancel.id);
        let reply = self.eval(&SCRIPTS.cancel_job, args, &what).await?;
        if reply == redis::Value::Nil {
            return Ok(None);
        }
        let was = codec::text(reply, &what)?;
        was.parse()
            .map(Some)
            .map_err(|e| Error::store(format!("{what}: stored status '{was}'"), e))
    }

    async fn get_job(&self, id: &JobId) -> Result<Option<Job>> {
        let what = format!("reading job {id}");
        let reply = self
            .eval(&SCRIPTS.get_job, vec![id.as_str().into()], &what)
            .await?;
        codec::job(reply)
    }

    async fn job_errors(&self, id: &JobId) -> Result<Option<Vec<ErrorRecord>>> {
        let what = format!("reading the error records of job {id}");
        let reply = self
            .eval(&SCRIPTS.job_errors, vec![id.as_str().into()], &what)
            .await?;
        if reply == redis::Value::Nil {
            return Ok(None);
        }
        codec::array(reply, &what)?
            .into_iter()
            .map(|v| codec::record(&codec::bulk(v, &what)?, id))
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    async fn list_jobs(&self, query: &JobQuery) -> Result<Vec<Job>> {
        let mut args: Args = vec![
            if query.oldest_first { "0" } else { "1" }.into(),
            count_arg(query.offset),
            query.limit.map_or_else(|| b"-1".to_vec(), count_arg),
            if query.job_name.is_some() { "1" } else { "0" }.into(),
            query.job_name.clone().unwrap_or_default().into_bytes(),
        ];
        let statuses = distinct(&query.statuses);
        // Every status is no filter: one index read by rank instead of a merge of five.
        if statuses.len() < JobStatus::ALL.len() {
            args.extend(statuses.iter().map(|s| s.as_str().into()));
        }
        let what = "listing jobs";
        let reply = self.eval(&SCRIPTS.list_jobs, args, what).await?;
        codec::jobs(reply, what)
    }

    async fn count_jobs(&self) -> Result<StatusCounts> {
        let what = "counting jobs";
        let reply = self.eval(&SCRIPTS.count_jobs, Vec::new(), what).await?;
        let counts = codec::array(reply, what)?;
        if counts.len() != JobStatus::ALL.len() {
            return Err(Error::store_msg(format!(
                "{what}: {} counts for {} statuses",
                counts.len(),
                JobStatus::ALL.len()
            )));
        }
        let mut by_status = StatusCounts::new();
        for (status, count) in JobStatus::ALL.into_iter().zip(&counts) {
            let n = u64::try_from(codec::int(count, what)?).unwrap_or(0);
            if n > 0 {
                by_status.insert(status, n);
            }
        }
        Ok(by_status)
    }

    async fn remove_jobs(&self, remove: &RemoveJobs<'_>) -> Result<StatusCounts> {
        if let Some(live) = remove.statuses.iter().find(|s| !s.is_final()) {
            return Err(Error::InvalidRemoveStatus(*live));
        }
        let statuses = distinct(remove.statuses);
        let mut removed = StatusCounts::new();
        if statuses.is_empty() {
            return Ok(removed);
        }
        let what = "removing jobs";
        let mut remaining = remove.limit;
        loop {
            let batch = remaining.map_or(DELETE_BATCH, |r| r.min(DELETE_BATCH));
            if batch == 0 {
                return Ok(removed);
            }
            let mut args: Args = vec![
                remove
                    .finished_before
                    .map(millis)
                    .unwrap_or_default()
                    .into_bytes(),
                usize_arg(batch),
            ];
            names_args(&mut args, &remove.names);
            args.extend(statuses.iter().map(|s| s.as_str().into()));
            let reply = self.eval(&SCRIPTS.remove_jobs, args, what).await?;
            let mut values = codec::array(reply, what)?.into_iter();
            let picked = values
                .next()
                .map(|v| codec::int(&v, what))
                .transpose()?
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(0);
            add_counts(&mut removed, values, what)?;
            if let Some(r) = remaining.as_mut() {
                *r = r.saturating_sub(picked);
            }
            if picked < batch {
                return Ok(removed);
            }
        }
    }

    async fn retry_jobs(&self, retry: &RetryJobs<'_>) -> Result<StatusCounts> {
        let statuses = distinct(retry.statuses);
        let mut retried = StatusCounts::new();
        if statuses.is_empty() || retry.ids.is_some_and(<[JobId]>::is_empty) {
            return Ok(retried);
        }
        let mut filter: Args = vec![statuses.len().to_string().into_bytes()];
        filter.extend(statuses.iter().map(|s| s.as_str().into()));
        names_args(&mut filter, &retry.names);
        let what = "retrying jobs";
        if let Some(ids) = retry.ids {
            for chunk in distinct(ids).chunks(RETRY_BATCH) {
                let mut args = filter.clone();
                args.push("ids".into());
                args.extend(chunk.iter().map(|id| id.as_str().into()));
                self.retry_call(args, &mut retried, what).await?;
            }
        } else {
            // The index of each status and name asked, read in batches after the last member
            // read (those retried leave it).
            let names = match retry.names {
                JobNames::Only(names) => distinct(names),
                JobNames::All | JobNames::Except(_) => {
                    let mut names = self.job_names(what).await?;
                    names.retain(|name| retry.names.matches(name));
                    names
                }
            };
            for status in &statuses {
                for name in &names {
                    let mut after = Vec::new();
                    loop {
                        let mut args = filter.clone();
                        args.push("scan".into());
                        args.push(status.as_str().into());
                        args.push(name.clone().into_bytes());
                        args.push(after);
                        args.push(usize_arg(RETRY_BATCH));
                        let (read, last) = self.retry_call(args, &mut retried, what).await?;
                        if read < RETRY_BATCH {
                            break;
                        }
                        after = last;
                    }
                }
            }
        }
        if !retried.is_empty() {
            self.wake_local();
        }
        Ok(retried)
    }

    async fn pause_names(&self, pause: &PauseNames<'_>) -> Result<()> {
        if pause.names.is_empty() {
            return Ok(());
        }
        let mut args: Args = vec![
            if pause.paused { "1" } else { "0" }.into(),
            millis(pause.now).into_bytes(),
        ];
        args.extend(distinct(pause.names).into_iter().map(String::into_bytes));
        let what = if pause.paused {
            "pausing job names"
        } else {
            "resuming job names"
        };
        self.eval(&SCRIPTS.pause_names, args, what).await?;
        Ok(())
    }

    async fn paused_names(&self) -> Result<Vec<PausedName>> {
        let what = "reading the paused job names";
        let reply = self.eval(&SCRIPTS.paused_names, Vec::new(), what).await?;
        let mut flat = codec::array(reply, what)?.into_iter();
        let mut paused = Vec::new();
        while let (Some(name), Some(since)) = (flat.next(), flat.next()) {
            let name = codec::text(name, what)?;
            let since = codec::text(since, what)?;
            let since = codec::time(&since).ok_or_else(|| {
                Error::store_msg(format!(
                    "{what}: name '{name}' was paused at '{since}', not a time"
                ))
            })?;
            paused.push(PausedName { name, since });
        }
        paused.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(paused)
    }

    async fn acquire_leader(&self, acquire: &AcquireLeader<'_>) -> Result<bool> {
        let note = acquire.note.map(codec::output_text).transpose()?;
        let args: Args = vec![
            acquire.name.into(),
            acquire.holder.into(),
            millis(acquire.until).into_bytes(),
            millis(acquire.now).into_bytes(),
            if note.is_some() { "1" } else { "0" }.into(),
            note.unwrap_or_default(),
        ];
        let what = format!("bidding for the lease '{}'", acquire.name);
        let reply = self.eval(&SCRIPTS.acquire_leader, args, &what).await?;
        Ok(codec::int(&reply, &what)? == 1)
    }

    async fn leaders(&self) -> Result<Vec<Leader>> {
        let what = "reading the maintenance leases";
        let reply = self.eval(&SCRIPTS.leaders, Vec::new(), what).await?;
        codec::array(reply, what)?
            .into_iter()
            .map(|lease| {
                let mut parts = codec::array(lease, what)?.into_iter();
                let (Some(name), Some(fields)) = (parts.next(), parts.next()) else {
                    return Err(Error::store_msg(format!("{what}: a short reply")));
                };
                codec::leader(codec::text(name, what)?, fields)
            })
            .collect()
    }

    fn wakeups(&self) -> Option<Arc<Notify>> {
        self.notify()
    }
}

impl RedisStore {
    /// One call of the retry script; adds its counts to `retried` and answers how many members
    /// it read and the last one.
    async fn retry_call(
        &self,
        args: Args,
        retried: &mut StatusCounts,
        what: &str,
    ) -> Result<(usize, Vec<u8>)> {
        let reply = self.eval(&SCRIPTS.retry_jobs, args, what).await?;
        let mut values = codec::array(reply, what)?.into_iter();
        let (Some(read), Some(last)) = (values.next(), values.next()) else {
            return Err(Error::store_msg(format!("{what}: a short reply")));
        };
        let read = usize::try_from(codec::int(&read, what)?).unwrap_or(0);
        let last = codec::bulk(last, what)?;
        add_counts(retried, values, what)?;
        Ok((read, last))
    }
}
