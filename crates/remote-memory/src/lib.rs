//! remote-memory: an in-memory store for the remote job queue.
//!
//! Fast and deterministic, for unit tests and single-process applications. Every call is one
//! critical section under a single lock, so claims are atomic however many workers pull.
//! Nothing survives the process.

#![warn(missing_docs)]

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use remote_core::__private::async_trait;
use remote_core::{
    Claim, Completion, Error, ErrorRecord, Failure, ItemId, Job, JobId, JobQuery, JobStatus,
    JobStore, LeaseToken, Result, SchedulerItem, SchedulerStore, StatusCounts, Take,
};
use serde_json::Value;
use tokio::sync::Notify;

#[derive(Default)]
struct State {
    jobs: HashMap<JobId, Job>,
    errors: HashMap<JobId, Vec<ErrorRecord>>,
    /// Queued jobs in pull order: `(queued_at, id)`.
    queue: BTreeSet<(DateTime<Utc>, JobId)>,
    items: BTreeMap<ItemId, SchedulerItem>,
}

/// A job and scheduler store kept in this process's memory.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    job_added: Arc<Notify>,
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

impl State {
    /// The job if it is processing under `token`.
    fn leased(&mut self, id: &JobId, token: LeaseToken) -> Option<&mut Job> {
        self.jobs
            .get_mut(id)
            .filter(|j| j.status == JobStatus::Processing && j.lease_token == Some(token))
    }
}

fn end_lease(job: &mut Job) {
    job.lease_until = None;
    job.lease_token = None;
}

#[async_trait]
impl JobStore for MemoryStore {
    async fn insert_jobs(&self, jobs: &[Job]) -> Result<()> {
        let mut state = self.state();
        let mut ids = HashSet::with_capacity(jobs.len());
        if let Some(job) = jobs
            .iter()
            .find(|job| state.jobs.contains_key(&job.id) || !ids.insert(&job.id))
        {
            return Err(Error::JobExists(job.id.clone()));
        }
        for job in jobs {
            if job.status == JobStatus::Queued {
                state.queue.insert((job.queued_at, job.id.clone()));
            }
            state.errors.insert(job.id.clone(), Vec::new());
            state.jobs.insert(job.id.clone(), job.clone());
        }
        drop(state);
        self.job_added.notify_waiters();
        Ok(())
    }

    async fn claim_jobs(&self, claim: &Claim<'_>) -> Result<Vec<Job>> {
        let mut state = self.state();
        let State { jobs, queue, .. } = &mut *state;
        let mut claimed = Vec::new();
        let mut taken = Vec::new();
        for (queued_at, id) in queue.iter() {
            if claimed.len() >= claim.limit {
                break;
            }
            let Some(job) = jobs.get_mut(id) else {
                continue;
            };
            if !claim.names.contains(&job.job_name) || job.retry_time.is_some_and(|t| t > claim.now)
            {
                continue;
            }
            job.status = JobStatus::Processing;
            job.picked_at = Some(claim.now);
            job.retry_counter += 1;
            job.lease_until = Some(claim.lease_until);
            job.lease_token = Some(claim.token);
            claimed.push(job.clone());
            taken.push((*queued_at, id.clone()));
        }
        for key in taken {
            queue.remove(&key);
        }
        Ok(claimed)
    }

    async fn complete_job(
        &self,
        id: &JobId,
        token: LeaseToken,
        output: &Value,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut state = self.state();
        let Some(job) = state.leased(id, token) else {
            return Ok(false);
        };
        job.status = JobStatus::Completed;
        job.output = Some(output.clone());
        job.completed_at = Some(now);
        end_lease(job);
        Ok(true)
    }

    async fn complete_jobs(&self, completions: &[Completion]) -> Result<Vec<bool>> {
        let mut state = self.state();
        Ok(completions
            .iter()
            .map(|c| match state.leased(&c.id, c.token) {
                Some(job) => {
                    job.status = JobStatus::Completed;
                    job.output = Some(c.output.clone());
                    job.completed_at = Some(c.now);
                    end_lease(job);
                    true
                }
                None => false,
            })
            .collect())
    }

    async fn fail_job(&self, id: &JobId, token: LeaseToken, failure: &Failure) -> Result<bool> {
        let mut state = self.state();
        let Some(job) = state.leased(id, token) else {
            return Ok(false);
        };
        if failure.lease_expired && job.lease_until.is_some_and(|t| t > failure.now) {
            return Ok(false);
        }
        end_lease(job);
        match failure.retry_at {
            Some(at) => {
                job.status = JobStatus::Queued;
                job.retry_time = Some(at);
            }
            None => {
                job.status = JobStatus::Error;
                job.completed_at = Some(failure.now);
            }
        }
        let requeue = (job.status == JobStatus::Queued).then(|| (job.queued_at, job.id.clone()));
        if let Some(key) = requeue {
            state.queue.insert(key);
        }
        state
            .errors
            .entry(id.clone())
            .or_default()
            .push(failure.record.clone());
        Ok(true)
    }

    async fn renew_lease(
        &self,
        id: &JobId,
        token: LeaseToken,
        lease_until: DateTime<Utc>,
    ) -> Result<bool> {
        let mut state = self.state();
        Ok(state
            .leased(id, token)
            .map(|job| job.lease_until = Some(lease_until))
            .is_some())
    }

    async fn expired_leases(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Job>> {
        let state = self.state();
        let mut expired: Vec<Job> = state
            .jobs
            .values()
            .filter(|j| {
                j.status == JobStatus::Processing && j.lease_until.is_some_and(|t| t <= now)
            })
            .cloned()
            .collect();
        expired.sort_by(|a, b| (a.lease_until, &a.id).cmp(&(b.lease_until, &b.id)));
        expired.truncate(limit);
        Ok(expired)
    }

    async fn cancel_job(&self, id: &JobId, now: DateTime<Utc>) -> Result<Option<JobStatus>> {
        let mut state = self.state();
        let Some(job) = state.jobs.get_mut(id) else {
            return Ok(None);
        };
        let was = job.status;
        if matches!(was, JobStatus::Queued | JobStatus::Processing) {
            job.status = JobStatus::Cancelled;
            job.completed_at = Some(now);
            end_lease(job);
            let key = (job.queued_at, job.id.clone());
            state.queue.remove(&key);
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
        let mut jobs: Vec<&Job> = state.jobs.values().filter(|j| query.matches(j)).collect();
        jobs.sort_by(|a, b| (a.queued_at, &a.id).cmp(&(b.queued_at, &b.id)));
        if !query.oldest_first {
            jobs.reverse();
        }
        let offset = usize::try_from(query.offset).unwrap_or(usize::MAX);
        let limit = query
            .limit
            .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
        Ok(jobs.into_iter().skip(offset).take(limit).cloned().collect())
    }

    async fn count_jobs(&self) -> Result<StatusCounts> {
        let mut counts = StatusCounts::new();
        for job in self.state().jobs.values() {
            *counts.entry(job.status).or_insert(0) += 1;
        }
        Ok(counts)
    }

    async fn remove_jobs(&self, statuses: &[JobStatus]) -> Result<StatusCounts> {
        let mut state = self.state();
        let mut removed = StatusCounts::new();
        let doomed: Vec<(JobId, JobStatus)> = state
            .jobs
            .values()
            .filter(|j| statuses.contains(&j.status))
            .map(|j| (j.id.clone(), j.status))
            .collect();
        for (id, status) in doomed {
            state.jobs.remove(&id);
            state.errors.remove(&id);
            *removed.entry(status).or_insert(0) += 1;
        }
        Ok(removed)
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

    async fn due_items(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<SchedulerItem>> {
        let state = self.state();
        let mut due: Vec<&SchedulerItem> = state.items.values().filter(|i| i.is_due(now)).collect();
        due.sort_by(|a, b| (a.next_call_time, &a.id).cmp(&(b.next_call_time, &b.id)));
        Ok(due.into_iter().take(limit).cloned().collect())
    }

    async fn take_item(&self, take: &Take) -> Result<bool> {
        let mut state = self.state();
        let Some(item) = state.items.get_mut(&take.id) else {
            return Ok(false);
        };
        if !item.is_due(take.now) || item.next_call_time != Some(take.expected_next_call_time) {
            return Ok(false);
        }
        item.next_call_time = take.next_call_time;
        item.retry_time = take.retry_time;
        Ok(true)
    }
}
