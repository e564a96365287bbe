//! The processor: the façade an application holds — factories, jobs, scheduler items, and the
//! job worker and scheduler worker it starts and stops (R1–R17).
//!
//! It owns no loop of its own: workers are wired in [`crate::worker`], firing in
//! `firing`, and both share the processor's state through `shared`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

use crate::clock::{to_millis, Clock, SystemClock};
use crate::completer::{self, Pending};
use crate::error::{Error, Result};
use crate::error_record::ErrorRecord;
use crate::event::AttemptEvent;
use crate::executor::execute;
use crate::factory::{FactoryInfo, JobFactory};
use crate::firing;
use crate::id::{ItemId, JobId};
use crate::job::{Job, JobOptions, JobQuery};
use crate::job_worker;
use crate::leases;
use crate::outcome::outcome_of;
use crate::rescuer::rescue_expired;
use crate::retention;
use crate::retention::Retention;
use crate::scheduler_item::SchedulerItem;
use crate::shared::{lock, Shared};
use crate::status::{JobStatus, StatusCounts};
use crate::store::{
    CancelJob, InsertJobs, Inserted, JobNames, JobStore, Leader, Lease, OnConflict, PauseNames,
    PausedName, RemoveJobs, RetryJobs, SchedulerStore, Store,
};
use crate::worker::WorkerConfig;

/// The statuses a job is cancelled from (R4).
const CANCELLABLE: [JobStatus; 2] = [JobStatus::Queued, JobStatus::Processing];

/// The statuses a job is retried from (R30).
const RETRYABLE: [JobStatus; 2] = [JobStatus::Error, JobStatus::Cancelled];

pub use crate::config::{ProcessorConfig, DEFAULT_LEASE};
pub use crate::firing::FIRING_LOCK;

/// Builds a [`Processor`] over a store.
pub struct ProcessorBuilder {
    jobs: Arc<dyn JobStore>,
    items: Arc<dyn SchedulerStore>,
    clock: Arc<dyn Clock>,
    config: ProcessorConfig,
}

impl std::fmt::Debug for ProcessorBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessorBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ProcessorBuilder {
    /// Names the processor (default `root`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.config.name = name.into();
        self
    }

    /// Uses another clock (tests use [`crate::ManualClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Sets the job worker started by `start_processor`.
    pub fn worker(mut self, worker: WorkerConfig) -> Self {
        self.config.worker = worker;
        self
    }

    /// Sets the scheduler worker's pause between passes.
    pub fn scheduler_wait_time(mut self, wait: Duration) -> Self {
        self.config.scheduler_wait_time = wait;
        self
    }

    /// Sets the lease of claimed attempts.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.config.lease = lease;
        self
    }

    /// Sets how long a stop waits for running jobs.
    pub fn grace(mut self, grace: Duration) -> Self {
        self.config.grace = grace;
        self
    }

    /// Sets how often the job worker recovers expired leases.
    pub fn recover_interval(mut self, every: Duration) -> Self {
        self.config.recover_interval = every;
        self
    }

    /// Sets how long a timed-out handler gets to stop before it is dropped (R28).
    pub fn timeout_grace(mut self, grace: Duration) -> Self {
        self.config.timeout_grace = grace;
        self
    }

    /// Sets how long finished jobs are kept before pruning removes them (R33).
    pub fn retention(mut self, retention: Retention) -> Self {
        self.config.retention = retention;
        self
    }

    /// Sets how often job workers prune (R33).
    pub fn prune_interval(mut self, every: Duration) -> Self {
        self.config.prune_interval = every;
        self
    }

    /// Pulls only jobs of these names (they must also be registered).
    pub fn job_names<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.config.job_names = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// The processor; no worker runs until started.
    pub fn build(self) -> Processor {
        let worker = self.config.worker.clone();
        Processor {
            shared: Arc::new(Shared::new(self.config, self.jobs, self.items, self.clock)),
            worker_config: Arc::new(Mutex::new(worker)),
            worker: Arc::new(Mutex::new(None)),
            scheduler: Arc::new(Mutex::new(None)),
        }
    }
}

/// What `cancel_job` did (R4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelOutcome {
    /// The job was queued or processing and is now cancelled.
    Cancelled {
        /// Its status before the cancel.
        was: JobStatus,
    },
    /// The job had already ended; nothing changed.
    Unchanged(JobStatus),
}

/// What `retry_job` did (R30).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryOutcome {
    /// The job was in `error` or `cancelled` and is queued again.
    Retried {
        /// Its status before.
        was: JobStatus,
    },
    /// The job was in another status; nothing changed.
    Unchanged(JobStatus),
}

/// A running worker or scheduler loop.
struct RunningLoop {
    stop: CancellationToken,
    handle: JoinHandle<()>,
}

/// The façade an application holds: factories, jobs, scheduler items and the workers.
///
/// Cloning is cheap and every clone is the same processor.
#[derive(Clone)]
pub struct Processor {
    shared: Arc<Shared>,
    worker_config: Arc<Mutex<WorkerConfig>>,
    worker: Arc<Mutex<Option<RunningLoop>>>,
    scheduler: Arc<Mutex<Option<RunningLoop>>>,
}

impl std::fmt::Debug for Processor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Processor")
            .field("name", &self.shared.config.name)
            .finish_non_exhaustive()
    }
}

impl Processor {
    /// A builder over one store holding both jobs and scheduler items.
    pub fn builder<S: Store>(store: S) -> ProcessorBuilder {
        let store = Arc::new(store);
        Self::builder_with(store.clone(), store)
    }

    /// A builder over separate job and scheduler stores.
    pub fn builder_with(
        jobs: Arc<dyn JobStore>,
        items: Arc<dyn SchedulerStore>,
    ) -> ProcessorBuilder {
        ProcessorBuilder {
            jobs,
            items,
            clock: Arc::new(SystemClock),
            config: ProcessorConfig::default(),
        }
    }

    /// A processor with default settings over one store.
    pub fn new<S: Store>(store: S) -> Self {
        Self::builder(store).build()
    }

    /// The processor's name.
    pub fn name(&self) -> &str {
        &self.shared.config.name
    }

    /// The processor's settings.
    pub fn config(&self) -> &ProcessorConfig {
        &self.shared.config
    }

    /// The current time of the processor's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.shared.now()
    }

    // ---- factories (R7) ----

    /// Registers a factory; a name registered twice is an error and nothing is overwritten.
    pub fn register(&self, factory: JobFactory) -> Result<()> {
        self.shared.register(factory)
    }

    /// The registered factories, by name.
    pub fn factories(&self) -> Vec<FactoryInfo> {
        self.shared
            .factories()
            .into_iter()
            .map(|f| f.info.clone())
            .collect()
    }

    // ---- jobs (R1, R4–R6) ----

    /// Adds a job of a registered factory; `None` input takes the factory's default (R1).
    /// When the factory keeps its jobs unique and a job with the same key is held, nothing is
    /// added and that job's id is returned (R27).
    pub async fn add_job(&self, name: &str, input: impl Into<Option<Value>>) -> Result<JobId> {
        self.add_job_with(name, input, JobOptions::default()).await
    }

    /// Adds a job that is not pulled before `not_before` (R1).
    pub async fn add_job_at(
        &self,
        name: &str,
        input: impl Into<Option<Value>>,
        not_before: DateTime<Utc>,
    ) -> Result<JobId> {
        self.add_job_with(name, input, JobOptions::new().not_before(not_before))
            .await
    }

    /// Adds a job with options beyond its factory's defaults: a not-before time, a priority,
    /// a unique key, a timeout (R1, R26–R28). Returns its id, or the id of the job holding its
    /// unique key.
    pub async fn add_job_with(
        &self,
        name: &str,
        input: impl Into<Option<Value>>,
        options: JobOptions,
    ) -> Result<JobId> {
        let job = self
            .shared
            .new_job(name, input.into(), &options, self.now())?;
        Ok(self.store_jobs(vec![job]).await?.remove(0))
    }

    /// A new job of a registered factory, with its defaults and `options`, not stored: for
    /// adding it through a store's own transaction (R32), e.g. `SqlStore::insert_jobs_in`.
    pub fn prepare_job(
        &self,
        name: &str,
        input: impl Into<Option<Value>>,
        options: JobOptions,
    ) -> Result<Job> {
        self.shared
            .new_job(name, input.into(), &options, self.now())
    }

    /// Adds many jobs of one factory in one store call; each id is the job's own or, for a
    /// unique job whose key is held, the holder's (R27).
    pub async fn add_jobs(&self, name: &str, inputs: Vec<Value>) -> Result<Vec<JobId>> {
        let now = self.now();
        let options = JobOptions::default();
        let jobs: Vec<Job> = inputs
            .into_iter()
            .map(|input| self.shared.new_job(name, Some(input), &options, now))
            .collect::<Result<_>>()?;
        self.store_jobs(jobs).await
    }

    /// Stores jobs made by [`prepare_job`](Self::prepare_job), refusing a stored id, and wakes
    /// this process's idle workers; answers for each whether it was stored or whose unique key
    /// it met (R27).
    pub async fn add_prepared_jobs(&self, jobs: &[Job]) -> Result<Vec<Inserted>> {
        let inserted = self
            .shared
            .jobs
            .insert_jobs(&InsertJobs {
                jobs,
                on_conflict: OnConflict::Refuse,
            })
            .await?;
        if inserted.len() != jobs.len() {
            return Err(Error::store_msg(format!(
                "the store answered {} of {} inserts",
                inserted.len(),
                jobs.len()
            )));
        }
        if inserted.iter().any(Inserted::is_stored) {
            self.shared.job_added.notify_one();
        }
        Ok(inserted)
    }

    /// Stores new jobs; the id of each job, or of the job holding its unique key.
    async fn store_jobs(&self, jobs: Vec<Job>) -> Result<Vec<JobId>> {
        let inserted = self.add_prepared_jobs(&jobs).await?;
        Ok(jobs
            .into_iter()
            .zip(inserted)
            .map(|(job, inserted)| match inserted {
                Inserted::Duplicate(holder) => holder,
                Inserted::Stored | Inserted::Skipped => job.id,
            })
            .collect())
    }

    /// A job as stored; an unknown id is [`Error::JobNotFound`].
    pub async fn get_job(&self, id: &JobId) -> Result<Job> {
        self.shared
            .jobs
            .get_job(id)
            .await?
            .ok_or_else(|| Error::JobNotFound(id.clone()))
    }

    /// A job's status.
    pub async fn job_status(&self, id: &JobId) -> Result<JobStatus> {
        Ok(self.get_job(id).await?.status)
    }

    /// A job's output; `None` until it completed.
    pub async fn job_result(&self, id: &JobId) -> Result<Option<Value>> {
        let job = self.get_job(id).await?;
        Ok(if job.status == JobStatus::Completed {
            job.output
        } else {
            None
        })
    }

    /// A job's error records, oldest first.
    pub async fn job_errors(&self, id: &JobId) -> Result<Vec<ErrorRecord>> {
        self.shared
            .jobs
            .job_errors(id)
            .await?
            .ok_or_else(|| Error::JobNotFound(id.clone()))
    }

    /// Jobs filtered by status and name, paged, newest first unless asked otherwise (R5).
    pub async fn list_jobs(&self, query: &JobQuery) -> Result<Vec<Job>> {
        self.shared.jobs.list_jobs(query).await
    }

    /// Number of jobs for every status, zeros included.
    pub async fn count_jobs(&self) -> Result<StatusCounts> {
        let mut counts = self.shared.jobs.count_jobs().await?;
        for status in JobStatus::ALL {
            counts.entry(status).or_insert(0);
        }
        Ok(counts)
    }

    /// Cancels a queued or processing job and signals its running handler (R4).
    pub async fn cancel_job(&self, id: &JobId) -> Result<CancelOutcome> {
        let now = self.now();
        let was = self
            .shared
            .jobs
            .cancel_job(&CancelJob {
                id,
                cancellable: &CANCELLABLE,
                now,
            })
            .await?
            .ok_or_else(|| Error::JobNotFound(id.clone()))?;
        if CANCELLABLE.contains(&was) {
            self.shared.signal(id);
            info!(job_id = %id, was = %was, "job cancelled");
            Ok(CancelOutcome::Cancelled { was })
        } else {
            Ok(CancelOutcome::Unchanged(was))
        }
    }

    /// Removes jobs by status; an empty list means cancelled, completed and error (R6).
    /// Queued or processing is refused and nothing is removed.
    pub async fn remove_jobs(&self, statuses: &[JobStatus]) -> Result<StatusCounts> {
        let statuses: Vec<JobStatus> = if statuses.is_empty() {
            JobStatus::REMOVABLE.to_vec()
        } else {
            statuses.to_vec()
        };
        if let Some(live) = statuses.iter().find(|s| !s.is_final()) {
            return Err(Error::InvalidRemoveStatus(*live));
        }
        let mut removed = self
            .shared
            .jobs
            .remove_jobs(&RemoveJobs {
                statuses: &statuses,
                names: JobNames::All,
                finished_before: None,
                limit: None,
            })
            .await?;
        for status in statuses {
            removed.entry(status).or_insert(0);
        }
        Ok(removed)
    }

    /// Removes jobs with these final statuses that finished before `before`, in batches of
    /// [`PRUNE_BATCH`](crate::retention::PRUNE_BATCH) with a pause between them, so that no
    /// statement holds locks for long (R6, R33); an empty list means every final status.
    pub async fn remove_jobs_finished_before(
        &self,
        statuses: &[JobStatus],
        before: DateTime<Utc>,
    ) -> Result<StatusCounts> {
        self.remove_jobs_in_batches(statuses, None, Some(before))
            .await
    }

    /// Removes jobs with these final statuses (an empty list: every final status), of the name
    /// `job_name` when given, that finished before `finished_before` when given, in batches as
    /// [`remove_jobs_finished_before`](Self::remove_jobs_finished_before) does; every status
    /// asked is in the counts, 0 when none was removed.
    pub async fn remove_jobs_in_batches(
        &self,
        statuses: &[JobStatus],
        job_name: Option<&str>,
        finished_before: Option<DateTime<Utc>>,
    ) -> Result<StatusCounts> {
        let statuses: Vec<JobStatus> = if statuses.is_empty() {
            JobStatus::REMOVABLE.to_vec()
        } else {
            statuses.to_vec()
        };
        if let Some(live) = statuses.iter().find(|s| !s.is_final()) {
            return Err(Error::InvalidRemoveStatus(*live));
        }
        let only = job_name.map(|n| [n.to_owned()]);
        let names = only.as_ref().map_or(JobNames::All, |n| JobNames::Only(n));
        let mut removed =
            retention::remove_in_batches(&self.shared, &statuses, names, finished_before).await?;
        for status in statuses {
            removed.entry(status).or_insert(0);
        }
        Ok(removed)
    }

    /// Puts an `error` or `cancelled` job back in the queue with a fresh attempt budget,
    /// keeping its error records (R30); another status is [`CancelOutcome`]-like `Unchanged`.
    pub async fn retry_job(&self, id: &JobId) -> Result<RetryOutcome> {
        let job = self.get_job(id).await?;
        let retried = self
            .shared
            .jobs
            .retry_jobs(&RetryJobs {
                ids: Some(std::slice::from_ref(id)),
                statuses: &RETRYABLE,
                names: JobNames::All,
                now: self.now(),
            })
            .await?;
        if retried.values().sum::<u64>() > 0 {
            self.shared.job_added.notify_one();
            info!(job_id = %id, was = %job.status, "job retried");
            Ok(RetryOutcome::Retried { was: job.status })
        } else {
            Ok(RetryOutcome::Unchanged(self.job_status(id).await?))
        }
    }

    /// Puts every job with these statuses (`error`, `cancelled`; both when empty) back in the
    /// queue, only of `job_name` when given (R30); counts per status before.
    pub async fn retry_jobs(
        &self,
        statuses: &[JobStatus],
        job_name: Option<&str>,
    ) -> Result<StatusCounts> {
        let statuses: Vec<JobStatus> = if statuses.is_empty() {
            RETRYABLE.to_vec()
        } else {
            statuses.to_vec()
        };
        if let Some(other) = statuses.iter().find(|s| !RETRYABLE.contains(s)) {
            return Err(Error::InvalidInput(format!(
                "jobs with status '{other}' cannot be retried (only error and cancelled)"
            )));
        }
        let name = job_name.map(|n| [n.to_string()]);
        let names = name.as_ref().map_or(JobNames::All, |n| JobNames::Only(n));
        let mut retried = self
            .shared
            .jobs
            .retry_jobs(&RetryJobs {
                ids: None,
                statuses: &statuses,
                names,
                now: self.now(),
            })
            .await?;
        if retried.values().sum::<u64>() > 0 {
            self.shared.job_added.notify_one();
        }
        for status in statuses {
            retried.entry(status).or_insert(0);
        }
        Ok(retried)
    }

    /// Pauses a job name in the store: no worker of any process claims its jobs until it is
    /// resumed; each notices within its wait time (R31).
    pub async fn pause_job_name(&self, name: &str) -> Result<()> {
        self.set_paused(name, true).await
    }

    /// Resumes a paused job name (R31).
    pub async fn resume_job_name(&self, name: &str) -> Result<()> {
        self.set_paused(name, false).await?;
        self.shared.job_added.notify_waiters();
        Ok(())
    }

    async fn set_paused(&self, name: &str, paused: bool) -> Result<()> {
        self.shared
            .jobs
            .pause_names(&PauseNames {
                names: &[name.to_string()],
                paused,
                now: self.now(),
            })
            .await
    }

    /// The paused job names and since when (R31).
    pub async fn paused_job_names(&self) -> Result<Vec<PausedName>> {
        self.shared.jobs.paused_names().await
    }

    /// Prunes now: removes the finished jobs older than their retention, in batches (R33).
    /// Job workers do this by themselves every `prune_interval`, one process at a time.
    pub async fn prune_finished_jobs(&self) -> Result<StatusCounts> {
        let removed = retention::prune(&self.shared, &self.shared.config.retention).await?;
        self.shared.emit(AttemptEvent::Pruned {
            removed: removed.clone(),
        });
        Ok(removed)
    }

    /// The named leases of maintenance work — who prunes, when pruning last ran and what it
    /// removed (R33).
    pub async fn maintenance_leaders(&self) -> Result<Vec<Leader>> {
        self.shared.jobs.leaders().await
    }

    // ---- manual processing (R13) ----

    /// Claims the next due job without running it.
    pub async fn pull_next_job(&self) -> Result<Option<Job>> {
        self.shared.refresh_paused().await?;
        Ok(self.shared.claim(1).await?.pop())
    }

    /// Runs a claimed job to its outcome; returns its status afterwards.
    pub async fn process_job(&self, id: &JobId) -> Result<JobStatus> {
        let job = self.get_job(id).await?;
        if job.status != JobStatus::Processing {
            return Err(Error::NotClaimed {
                id: id.clone(),
                status: job.status,
            });
        }
        self.run_claimed(job).await
    }

    /// Claims and runs the next due job; `false` when none was due.
    pub async fn process_next_job(&self) -> Result<bool> {
        match self.pull_next_job().await? {
            Some(job) => {
                self.run_claimed(job).await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Runs one claimed attempt here, its lease kept alive meanwhile, and stores its outcome.
    async fn run_claimed(&self, mut job: Job) -> Result<JobStatus> {
        let shared = &self.shared;
        let token = job.lease_token.ok_or_else(|| Error::NotClaimed {
            id: job.id.clone(),
            status: job.status,
        })?;
        let cancel = shared
            .hold(&job, true)
            .ok_or_else(|| Error::AlreadyRunning(job.id.clone()))?;
        let lease = Lease {
            id: job.id.clone(),
            token,
        };
        let keeping = CancellationToken::new();
        let (ran, ()) = tokio::join!(
            async {
                let ran = execute(shared, &mut job, cancel).await;
                keeping.cancel();
                ran
            },
            leases::keep(shared, keeping.clone())
        );
        let pending = Pending {
            outcome: outcome_of(&job, token, ran.ended, ran.max_snoozes, self.now()),
            job_name: job.job_name.clone(),
            attempt: job.attempt,
            run_time: ran.run_time,
            reply: None,
        };
        let stored = completer::store_now(shared, pending).await;
        shared.unhold(&lease);
        stored
    }

    /// Fails every attempt whose lease expired, as R3 decides (R8); returns how many.
    pub async fn recover_expired_jobs(&self) -> Result<usize> {
        rescue_expired(&self.shared).await
    }

    // ---- workers (R10–R12) ----

    /// Events of every attempt this processor runs, from now on (for metrics and dashboards).
    pub fn subscribe(&self) -> broadcast::Receiver<AttemptEvent> {
        self.shared.subscribe()
    }

    /// Ids of the jobs whose handlers run in this processor now.
    pub fn running_jobs(&self) -> Vec<JobId> {
        self.shared.running_jobs()
    }

    /// Changes the job worker used by the next `start_processor`.
    pub fn set_worker(&self, worker: WorkerConfig) {
        *lock(&self.worker_config) = worker;
    }

    /// Starts the job worker; a no-op that logs "already running" when it runs.
    pub fn start_processor(&self) {
        let config = lock(&self.worker_config).clone();
        let shared = self.shared.clone();
        start_loop(&self.worker, &self.worker_name(), move |stop| {
            job_worker::run(shared, config, stop)
        });
    }

    /// Stops the job worker gracefully (R10) and waits until it ended.
    pub async fn stop_processor(&self) {
        stop_loop(&self.worker).await;
    }

    /// True while the job worker runs.
    pub fn is_processing(&self) -> bool {
        is_running(&self.worker)
    }

    /// Starts the scheduler worker; a no-op that logs "already running" when it runs.
    pub fn start_scheduler(&self) {
        let shared = self.shared.clone();
        start_loop(&self.scheduler, &self.scheduler_name(), move |stop| {
            firing::scheduler_worker(shared, stop)
        });
    }

    /// Stops the scheduler worker and waits until it ended.
    pub async fn stop_scheduler(&self) {
        stop_loop(&self.scheduler).await;
    }

    /// True while the scheduler worker runs.
    pub fn is_scheduling(&self) -> bool {
        is_running(&self.scheduler)
    }

    fn worker_name(&self) -> String {
        format!("{}-worker", self.shared.config.name)
    }

    fn scheduler_name(&self) -> String {
        format!("{}-scheduler", self.shared.config.name)
    }

    // ---- scheduler items (R14–R17) ----

    /// Validates and stores an item; without `next_call_time` it gets the first firing after now.
    /// A malformed rule is [`Error::InvalidCron`], a misfire policy that never fires
    /// [`Error::InvalidInput`] (R14, R34).
    pub async fn add_scheduler_item(&self, mut item: SchedulerItem) -> Result<ItemId> {
        item.validate()?;
        let now = self.now();
        if item.next_call_time.is_none() {
            item.next_call_time = item.schedule.next_after(now);
        }
        settle_times(&mut item);
        self.shared.items.insert_item(&item).await?;
        self.shared.item_added.notify_one();
        Ok(item.id)
    }

    /// One item; an unknown id is [`Error::ItemNotFound`].
    pub async fn scheduler_item(&self, id: &ItemId) -> Result<SchedulerItem> {
        self.shared
            .items
            .get_item(id)
            .await?
            .ok_or_else(|| Error::ItemNotFound(id.clone()))
    }

    /// All items.
    pub async fn scheduler_items(&self) -> Result<Vec<SchedulerItem>> {
        self.shared.items.list_items().await
    }

    /// Replaces an item. A changed rule, or an item activated with a past call time, gets its
    /// next call time recomputed from now so that it does not fire for the time it was off.
    /// It is validated as [`add_scheduler_item`](Self::add_scheduler_item) validates.
    pub async fn update_scheduler_item(&self, mut item: SchedulerItem) -> Result<SchedulerItem> {
        item.validate()?;
        let stored = self.scheduler_item(&item.id).await?;
        let now = self.now();
        let rule_changed =
            stored.schedule != item.schedule && stored.next_call_time == item.next_call_time;
        let resumed = !stored.active && item.active && item.next_call_time.is_none_or(|t| t <= now);
        if rule_changed || resumed {
            item.next_call_time = item.schedule.next_after(now);
        }
        settle_times(&mut item);
        if !self.shared.items.update_item(&item).await? {
            return Err(Error::ItemNotFound(item.id));
        }
        self.shared.item_added.notify_one();
        Ok(item)
    }

    /// Activates (resumes) or deactivates (pauses) an item.
    pub async fn set_scheduler_item_active(
        &self,
        id: &ItemId,
        active: bool,
    ) -> Result<SchedulerItem> {
        let item = self.scheduler_item(id).await?;
        self.update_scheduler_item(SchedulerItem { active, ..item })
            .await
    }

    /// Deletes an item; an unknown id is [`Error::ItemNotFound`].
    pub async fn remove_scheduler_item(&self, id: &ItemId) -> Result<()> {
        if self.shared.items.delete_item(id).await? {
            Ok(())
        } else {
            Err(Error::ItemNotFound(id.clone()))
        }
    }

    /// Atomically takes the earliest due item: locks it for its `lock_duration` and advances
    /// its next call time to the first firing after now (R15). It adds no job, whatever the
    /// item's misfire policy (R34): what to run for the occurrences is the caller's choice.
    pub async fn pull_next_scheduler_item(&self) -> Result<Option<SchedulerItem>> {
        firing::pull_next(&self.shared).await
    }

    /// One scheduler pass: fires every due item (R15, R16, R25); returns the number of
    /// occurrences fired, each with its one job stored.
    ///
    /// Concurrent schedulers claim different items; each occurrence's job is stored under
    /// the id [`JobId::for_occurrence`] derives from the item and the occurrence, so no
    /// occurrence is lost or added twice, even when a scheduler dies half-way.
    pub async fn fire_due_items(&self) -> Result<usize> {
        firing::fire_due_items(&self.shared).await
    }
}

/// Cuts an item's times to milliseconds; a rule that never fires has no next call time (R17).
fn settle_times(item: &mut SchedulerItem) {
    item.next_call_time = item
        .next_call_time
        .filter(|_| item.schedule.fires())
        .map(to_millis);
    item.locked_until = item.locked_until.map(to_millis);
}

fn start_loop<F, Fut>(slot: &Mutex<Option<RunningLoop>>, name: &str, run: F)
where
    F: FnOnce(CancellationToken) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut slot = lock(slot);
    if slot.as_ref().is_some_and(|l| !l.handle.is_finished()) {
        info!("Processor '{name}' already running");
        return;
    }
    let stop = CancellationToken::new();
    let handle = tokio::spawn(run(stop.clone()));
    *slot = Some(RunningLoop { stop, handle });
}

async fn stop_loop(slot: &Mutex<Option<RunningLoop>>) {
    let running = lock(slot).take();
    if let Some(running) = running {
        running.stop.cancel();
        if let Err(e) = running.handle.await {
            error!(error = %e, "worker task ended abnormally");
        }
    }
}

fn is_running(slot: &Mutex<Option<RunningLoop>>) -> bool {
    lock(slot).as_ref().is_some_and(|l| !l.handle.is_finished())
}
