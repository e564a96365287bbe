//! remote-memory: an in-memory store for the remote job queue.
//!
//! Fast and deterministic, for unit tests and single-process applications, and the reference
//! implementation of the store contract. Every call is one critical section under a single
//! lock, so claims are atomic however many workers pull. Indexes keep claims, lease recovery,
//! listing and counting from scanning every job. Nothing survives the process.

#![warn(missing_docs)]

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use remote_core::__private::async_trait;
use remote_core::{
    AcquireLeader, CancelJob, ClaimItems, ClaimJobs, Error, ErrorRecord, ExpiredLeases, InsertJobs,
    Inserted, ItemId, Job, JobId, JobQuery, JobStatus, JobStore, Leader, Lease, OnConflict,
    Outcome, OutcomeKind, PauseNames, PausedName, RemoveJobs, RenewLeases, Result, RetryJobs,
    SchedulerItem, SchedulerStore, StatusCounts, Take,
};
use serde_json::Value;
use tokio::sync::Notify;

/// A job's place in listings: `(queued_at, id)`.
type Place = (DateTime<Utc>, JobId);

/// A queued job's place in pull order: highest priority, then oldest, then smallest id (R26).
type Turn = (Reverse<i16>, DateTime<Utc>, JobId);

#[derive(Default)]
struct State {
    jobs: HashMap<JobId, Job>,
    errors: HashMap<JobId, Vec<ErrorRecord>>,
    /// Every job in creation order, for listings.
    order: BTreeSet<Place>,
    /// Queued jobs in pull order.
    queue: BTreeSet<Turn>,
    /// Processing jobs by lease end, for lease recovery.
    leases: BTreeSet<(DateTime<Utc>, JobId)>,
    /// Finished jobs by `completed_at` (none first), for removal of the oldest first.
    finished: BTreeSet<(Option<DateTime<Utc>>, JobId)>,
    /// Jobs per status.
    counts: BTreeMap<JobStatus, u64>,
    /// The job holding each unique key (R27).
    holders: HashMap<String, JobId>,
    paused: BTreeMap<String, DateTime<Utc>>,
    leaders: BTreeMap<String, Leader>,
    items: BTreeMap<ItemId, SchedulerItem>,
}

/// A job and scheduler store kept in this process's memory.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    job_added: Arc<Notify>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("jobs", &self.state().jobs.len())
            .finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn place(job: &Job) -> Place {
    (job.queued_at, job.id.clone())
}

/// What places a job in the indexes.
#[derive(Clone, PartialEq)]
struct Keys {
    status: JobStatus,
    priority: i16,
    queued_at: DateTime<Utc>,
    lease_until: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
    /// The unique key the job holds in its status (R27).
    holds: Option<String>,
}

impl Keys {
    fn of(job: &Job) -> Self {
        Self {
            status: job.status,
            priority: job.priority,
            queued_at: job.queued_at,
            lease_until: job.lease_until,
            completed_at: job.completed_at,
            holds: holds(job, job.status).map(str::to_owned),
        }
    }
}

/// The unique key `job` holds in `status`, if any (R27).
fn holds(job: &Job, status: JobStatus) -> Option<&str> {
    job.unique_key
        .as_deref()
        .filter(|_| job.unique_across.contains(status))
}

impl State {
    /// Adds a job to the indexes of its status, or takes it out (`add = false`).
    fn index(&mut self, id: &JobId, keys: Keys, add: bool) {
        let count = self.counts.entry(keys.status).or_insert(0);
        *count = if add {
            *count + 1
        } else {
            count.saturating_sub(1)
        };
        fn apply<K: Ord>(set: &mut BTreeSet<K>, key: K, add: bool) {
            if add {
                set.insert(key);
            } else {
                set.remove(&key);
            }
        }
        if let Some(key) = keys.holds {
            if add {
                self.holders.insert(key, id.clone());
            } else if self.holders.get(&key) == Some(id) {
                self.holders.remove(&key);
            }
        }
        match keys.status {
            JobStatus::Queued => apply(
                &mut self.queue,
                (Reverse(keys.priority), keys.queued_at, id.clone()),
                add,
            ),
            JobStatus::Processing => {
                if let Some(until) = keys.lease_until {
                    apply(&mut self.leases, (until, id.clone()), add);
                }
            }
            _ => apply(&mut self.finished, (keys.completed_at, id.clone()), add),
        }
    }

    /// Changes a stored job with `change`, keeping the indexes in step; `change` answers
    /// whether it changed anything.
    fn update(&mut self, id: &JobId, change: impl FnOnce(&mut Job) -> bool) -> bool {
        let Some(job) = self.jobs.get_mut(id) else {
            return false;
        };
        let before = Keys::of(job);
        if !change(job) {
            return false;
        }
        let after = Keys::of(job);
        if after != before {
            self.index(id, before, false);
            self.index(id, after, true);
        }
        true
    }

    /// True when the job is processing under the lease's token.
    fn is_leased(&self, lease: &Lease) -> bool {
        self.jobs.get(&lease.id).is_some_and(|j| {
            j.status == JobStatus::Processing && j.lease_token == Some(lease.token)
        })
    }

    /// Applies one outcome to a job processing under its lease; `expired_at`: only while the
    /// lease ended at or before that time.
    fn apply(&mut self, outcome: &Outcome, expired_at: Option<DateTime<Utc>>) -> bool {
        if !self.is_leased(&outcome.lease) {
            return false;
        }
        let mut record = None;
        let applied = self.update(&outcome.lease.id, |job| {
            if expired_at.is_some_and(|now| job.lease_until.is_some_and(|t| t > now)) {
                return false;
            }
            end_lease(job);
            match &outcome.kind {
                OutcomeKind::Completed { output } => {
                    job.status = JobStatus::Completed;
                    job.output = Some(output.clone());
                    job.completed_at = Some(outcome.now);
                }
                OutcomeKind::Retry {
                    record: r,
                    not_before,
                } => {
                    job.status = JobStatus::Queued;
                    job.not_before = Some(*not_before);
                    record = Some(r.clone());
                }
                OutcomeKind::Failed { record: r } => {
                    job.status = JobStatus::Error;
                    job.completed_at = Some(outcome.now);
                    record = Some(r.clone());
                }
                OutcomeKind::Snooze { not_before } => {
                    job.status = JobStatus::Queued;
                    job.not_before = Some(*not_before);
                    job.attempt = job.attempt.saturating_sub(1);
                    job.snoozes += 1;
                }
            }
            true
        });
        if let Some(record) = record {
            self.errors
                .entry(outcome.lease.id.clone())
                .or_default()
                .push(record);
        }
        applied
    }
}

fn end_lease(job: &mut Job) {
    job.lease_until = None;
    job.lease_token = None;
}

#[async_trait]
impl JobStore for MemoryStore {
    async fn insert_jobs(&self, insert: &InsertJobs<'_>) -> Result<Vec<Inserted>> {
        let mut state = self.state();
        let mut batch_ids = HashMap::with_capacity(insert.jobs.len());
        let mut batch_keys: HashMap<&str, &JobId> = HashMap::new();
        let mut answers = Vec::with_capacity(insert.jobs.len());
        for job in insert.jobs {
            if state.jobs.contains_key(&job.id) || batch_ids.contains_key(&job.id) {
                if insert.on_conflict == OnConflict::Refuse {
                    return Err(Error::JobExists(job.id.clone()));
                }
                answers.push(Inserted::Skipped);
                continue;
            }
            if let Some(key) = holds(job, job.status) {
                let holder = state
                    .holders
                    .get(key)
                    .or_else(|| batch_keys.get(key).copied());
                if let Some(holder) = holder {
                    answers.push(Inserted::Duplicate(holder.clone()));
                    continue;
                }
                batch_keys.insert(key, &job.id);
            }
            batch_ids.insert(job.id.clone(), ());
            answers.push(Inserted::Stored);
        }
        for (job, answer) in insert.jobs.iter().zip(&answers) {
            if answer.is_stored() {
                state.index(&job.id, Keys::of(job), true);
                state.order.insert(place(job));
                state.errors.insert(job.id.clone(), Vec::new());
                state.jobs.insert(job.id.clone(), job.clone());
            }
        }
        drop(state);
        if answers.iter().any(Inserted::is_stored) {
            self.job_added.notify_waiters();
        }
        Ok(answers)
    }

    async fn claim_jobs(&self, claim: &ClaimJobs<'_>) -> Result<Vec<Job>> {
        let mut state = self.state();
        let due: Vec<JobId> = state
            .queue
            .iter()
            .filter_map(|(_, _, id)| {
                let job = state.jobs.get(id)?;
                (claim.names.contains(&job.job_name)
                    && job.not_before.is_none_or(|t| t <= claim.now))
                .then(|| id.clone())
            })
            .take(claim.limit)
            .collect();
        let mut claimed = Vec::with_capacity(due.len());
        for id in due {
            state.update(&id, |job| {
                job.status = JobStatus::Processing;
                job.picked_at = Some(claim.now);
                job.attempt += 1;
                job.lease_until = Some(claim.lease_until);
                job.lease_token = Some(claim.token);
                claimed.push(job.clone());
                true
            });
        }
        Ok(claimed)
    }

    async fn record_outcomes(&self, outcomes: &[Outcome]) -> Result<Vec<bool>> {
        let mut state = self.state();
        Ok(outcomes.iter().map(|o| state.apply(o, None)).collect())
    }

    async fn rescue_jobs(&self, outcomes: &[Outcome]) -> Result<Vec<bool>> {
        let mut state = self.state();
        Ok(outcomes
            .iter()
            .map(|o| state.apply(o, Some(o.now)))
            .collect())
    }

    async fn release_jobs(&self, leases: &[Lease]) -> Result<Vec<bool>> {
        let mut state = self.state();
        let released: Vec<bool> = leases
            .iter()
            .map(|lease| {
                state.is_leased(lease)
                    && state.update(&lease.id, |job| {
                        end_lease(job);
                        job.status = JobStatus::Queued;
                        job.attempt = job.attempt.saturating_sub(1);
                        if job.attempt == 0 {
                            job.picked_at = None;
                        }
                        true
                    })
            })
            .collect();
        drop(state);
        if released.contains(&true) {
            self.job_added.notify_waiters();
        }
        Ok(released)
    }

    async fn renew_leases(&self, renew: &RenewLeases<'_>) -> Result<Vec<bool>> {
        let mut state = self.state();
        Ok(renew
            .leases
            .iter()
            .map(|lease| {
                state.is_leased(lease)
                    && state.update(&lease.id, |job| {
                        job.lease_until = Some(renew.lease_until);
                        true
                    })
            })
            .collect())
    }

    async fn expired_leases(&self, query: &ExpiredLeases) -> Result<Vec<Job>> {
        let state = self.state();
        Ok(state
            .leases
            .iter()
            .take_while(|(until, _)| *until <= query.now)
            .take(query.limit)
            .filter_map(|(_, id)| state.jobs.get(id).cloned())
            .collect())
    }

    async fn cancel_job(&self, cancel: &CancelJob<'_>) -> Result<Option<JobStatus>> {
        let mut state = self.state();
        let Some(was) = state.jobs.get(cancel.id).map(|j| j.status) else {
            return Ok(None);
        };
        if cancel.cancellable.contains(&was) {
            state.update(cancel.id, |job| {
                job.status = JobStatus::Cancelled;
                job.completed_at = Some(cancel.now);
                end_lease(job);
                true
            });
        }
        Ok(Some(was))
    }

    async fn get_job(&self, id: &JobId) -> Result<Option<Job>> {
        Ok(self.state().jobs.get(id).cloned())
    }

    async fn job_errors(&self, id: &JobId) -> Result<Option<Vec<ErrorRecord>>> {
        let state = self.state();
        Ok(state
            .jobs
            .contains_key(id)
            .then(|| state.errors.get(id).cloned().unwrap_or_default()))
    }

    async fn list_jobs(&self, query: &JobQuery) -> Result<Vec<Job>> {
        let state = self.state();
        let matching = |place: &&Place| state.jobs.get(&place.1).is_some_and(|j| query.matches(j));
        let offset = usize::try_from(query.offset).unwrap_or(usize::MAX);
        let limit = query
            .limit
            .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
        let pick = |places: &mut dyn Iterator<Item = &Place>| -> Vec<Job> {
            places
                .filter(matching)
                .skip(offset)
                .take(limit)
                .filter_map(|(_, id)| state.jobs.get(id).cloned())
                .collect()
        };
        Ok(if query.oldest_first {
            pick(&mut state.order.iter())
        } else {
            pick(&mut state.order.iter().rev())
        })
    }

    async fn count_jobs(&self) -> Result<StatusCounts> {
        Ok(self
            .state()
            .counts
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(status, n)| (*status, *n))
            .collect())
    }

    async fn remove_jobs(&self, remove: &RemoveJobs<'_>) -> Result<StatusCounts> {
        let mut state = self.state();
        let doomed: Vec<JobId> = state
            .finished
            .iter()
            .take_while(|(at, _)| {
                remove
                    .finished_before
                    .is_none_or(|before| at.is_none_or(|at| at < before))
            })
            .filter(|(at, id)| {
                (remove.finished_before.is_none() || at.is_some())
                    && state.jobs.get(id).is_some_and(|j| {
                        remove.statuses.contains(&j.status) && remove.names.matches(&j.job_name)
                    })
            })
            .take(remove.limit.unwrap_or(usize::MAX))
            .map(|(_, id)| id.clone())
            .collect();
        let mut removed = StatusCounts::new();
        for id in doomed {
            if let Some(job) = state.jobs.remove(&id) {
                state.index(&id, Keys::of(&job), false);
                state.order.remove(&place(&job));
                state.errors.remove(&id);
                *removed.entry(job.status).or_insert(0) += 1;
            }
        }
        Ok(removed)
    }

    async fn retry_jobs(&self, retry: &RetryJobs<'_>) -> Result<StatusCounts> {
        let mut state = self.state();
        let chosen: Vec<JobId> = match retry.ids {
            Some(ids) => ids.to_vec(),
            None => state.finished.iter().map(|(_, id)| id.clone()).collect(),
        };
        let mut retried = StatusCounts::new();
        for id in chosen {
            let Some(job) = state.jobs.get(&id) else {
                continue;
            };
            let was = job.status;
            let taken = holds(job, JobStatus::Queued)
                .and_then(|key| state.holders.get(key))
                .is_some_and(|holder| *holder != id);
            if !retry.statuses.contains(&was) || !retry.names.matches(&job.job_name) || taken {
                continue;
            }
            state.update(&id, |job| {
                job.status = JobStatus::Queued;
                job.attempt = 0;
                job.snoozes = 0;
                job.not_before = None;
                job.output = None;
                job.completed_at = None;
                job.picked_at = None;
                end_lease(job);
                true
            });
            *retried.entry(was).or_insert(0) += 1;
        }
        drop(state);
        if !retried.is_empty() {
            self.job_added.notify_waiters();
        }
        Ok(retried)
    }

    async fn pause_names(&self, pause: &PauseNames<'_>) -> Result<()> {
        let mut state = self.state();
        for name in pause.names {
            if pause.paused {
                state.paused.entry(name.clone()).or_insert(pause.now);
            } else {
                state.paused.remove(name);
            }
        }
        Ok(())
    }

    async fn paused_names(&self) -> Result<Vec<PausedName>> {
        Ok(self
            .state()
            .paused
            .iter()
            .map(|(name, since)| PausedName {
                name: name.clone(),
                since: *since,
            })
            .collect())
    }

    async fn acquire_leader(&self, acquire: &AcquireLeader<'_>) -> Result<bool> {
        let mut state = self.state();
        let free = state
            .leaders
            .get(acquire.name)
            .is_none_or(|l| l.until <= acquire.now || l.holder == acquire.holder);
        if !free {
            return Ok(false);
        }
        let note = match (acquire.note, state.leaders.get(acquire.name)) {
            (Some(note), _) => note.clone(),
            (None, Some(held)) => held.note.clone(),
            (None, None) => Value::Null,
        };
        state.leaders.insert(
            acquire.name.to_owned(),
            Leader {
                name: acquire.name.to_owned(),
                holder: acquire.holder.to_owned(),
                until: acquire.until,
                note,
            },
        );
        Ok(true)
    }

    async fn leaders(&self) -> Result<Vec<Leader>> {
        Ok(self.state().leaders.values().cloned().collect())
    }

    fn wakeups(&self) -> Option<Arc<Notify>> {
        Some(self.job_added.clone())
    }
}

#[async_trait]
impl SchedulerStore for MemoryStore {
    async fn insert_item(&self, item: &SchedulerItem) -> Result<()> {
        self.state().items.insert(item.id.clone(), item.clone());
        Ok(())
    }

    async fn get_item(&self, id: &ItemId) -> Result<Option<SchedulerItem>> {
        Ok(self.state().items.get(id).cloned())
    }

    async fn list_items(&self) -> Result<Vec<SchedulerItem>> {
        Ok(self.state().items.values().cloned().collect())
    }

    async fn update_item(&self, item: &SchedulerItem) -> Result<bool> {
        let mut state = self.state();
        Ok(match state.items.get_mut(&item.id) {
            Some(stored) => {
                *stored = item.clone();
                true
            }
            None => false,
        })
    }

    async fn delete_item(&self, id: &ItemId) -> Result<bool> {
        Ok(self.state().items.remove(id).is_some())
    }

    async fn claim_items(&self, claim: &ClaimItems) -> Result<Vec<SchedulerItem>> {
        let mut state = self.state();
        let mut due: Vec<&mut SchedulerItem> = state
            .items
            .values_mut()
            .filter(|i| i.is_due(claim.now))
            .collect();
        due.sort_by(|a, b| (a.next_call_time, &a.id).cmp(&(b.next_call_time, &b.id)));
        Ok(due
            .into_iter()
            .take(claim.limit)
            .map(|item| {
                item.locked_until = Some(claim.locked_until);
                item.clone()
            })
            .collect())
    }

    async fn take_items(&self, takes: &[Take]) -> Result<Vec<bool>> {
        let mut state = self.state();
        Ok(takes
            .iter()
            .map(|take| {
                let Some(item) = state.items.get_mut(&take.id) else {
                    return false;
                };
                if !item.active
                    || item.next_call_time != Some(take.expected_next_call_time)
                    || item.locked_until != Some(take.expected_locked_until)
                {
                    return false;
                }
                item.next_call_time = take.next_call_time;
                item.locked_until = take.locked_until;
                true
            })
            .collect())
    }
}
