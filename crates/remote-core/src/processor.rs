//! The processor: the façade an application holds (R1–R16).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{broadcast, oneshot, Notify};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn, Instrument};

use crate::clock::{add, to_millis, Clock, SystemClock};
use crate::error::{Error, Result};
use crate::error_record::ErrorRecord;
use crate::event::{AttemptEvent, AttemptOutcome};
use crate::factory::{FactoryInfo, JobFactory};
use crate::handler::JobContext;
use crate::id::{ItemId, JobId, LeaseToken};
use crate::job::{Job, JobQuery};
use crate::scheduler_item::SchedulerItem;
use crate::status::{JobStatus, StatusCounts};
use crate::store::{Claim, Completion, Failure, JobStore, SchedulerStore, Store, Take};
use crate::worker::{job_worker, scheduler_worker, WorkerConfig};

/// Rounds of "read due items, try to take one" before a scheduler pass gives way to others.
const MAX_TAKE_ROUNDS: usize = 100;

/// Most completions stored in one `complete_jobs` call.
const MAX_COMPLETION_BATCH: usize = 256;

/// Most `complete_jobs` calls of one processor in flight at once.
const MAX_COMPLETION_CALLS: usize = 4;

/// Events kept for a slow subscriber before it starts missing some.
const EVENT_BUFFER: usize = 4096;

/// Default lease of a claimed attempt (R8).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// Settings of a processor; see [`ProcessorBuilder`].
#[derive(Clone, Debug)]
pub struct ProcessorConfig {
    /// Name in logs and worker names (`<name>-worker`, `<name>-scheduler`).
    pub name: String,
    /// The job worker started by `start_processor`.
    pub worker: WorkerConfig,
    /// Pause of the scheduler worker between passes.
    pub scheduler_wait_time: Duration,
    /// Lease of each claimed attempt; renewed every third of it while the handler runs.
    pub lease: Duration,
    /// How long `stop_processor` waits for running jobs before signalling cancellation.
    pub grace: Duration,
    /// How often a running job worker recovers expired leases.
    pub recover_interval: Duration,
    /// Pull only these registered names (the seed's `jobQuery`); all registered when `None`.
    pub job_names: Option<Vec<String>>,
}

impl Default for ProcessorConfig {
    fn default() -> Self {
        Self {
            name: "root".into(),
            worker: WorkerConfig::default(),
            scheduler_wait_time: Duration::from_secs(1),
            lease: DEFAULT_LEASE,
            grace: Duration::from_secs(10),
            recover_interval: Duration::from_secs(5),
            job_names: None,
        }
    }
}

/// Builds a [`Processor`] over a store.
pub struct ProcessorBuilder {
    jobs: Arc<dyn JobStore>,
    items: Arc<dyn SchedulerStore>,
    clock: Arc<dyn Clock>,
    config: ProcessorConfig,
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

    /// Pulls only jobs of these names (they must also be registered).
    pub fn job_names<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.config.job_names = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// The processor; no worker runs until started.
    pub fn build(self) -> Processor {
        Processor {
            inner: Arc::new(Inner {
                worker_config: Mutex::new(self.config.worker.clone()),
                config: self.config,
                jobs: self.jobs,
                items: self.items,
                clock: self.clock,
                factories: RwLock::new(BTreeMap::new()),
                job_added: Notify::new(),
                item_added: Notify::new(),
                running: Mutex::new(HashMap::new()),
                completions: Mutex::new(Vec::new()),
                flushing: tokio::sync::Semaphore::new(MAX_COMPLETION_CALLS),
                events: broadcast::channel(EVENT_BUFFER).0,
                worker: Mutex::new(None),
                scheduler: Mutex::new(None),
            }),
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

/// A job worker's slot, handed to an attempt so that it can give the slot up as soon as its
/// handler succeeded: the next job then starts while the completion is stored together with
/// others. `storing` bounds the completions a worker has waiting for the store.
pub(crate) struct Slot {
    pub(crate) running: tokio::sync::OwnedSemaphorePermit,
    pub(crate) storing: Arc<tokio::sync::Semaphore>,
}

/// A completion waiting to be stored, and who waits for its answer.
type PendingCompletion = (Completion, oneshot::Sender<Result<bool, String>>);

struct RunningLoop {
    stop: CancellationToken,
    handle: JoinHandle<()>,
}

pub(crate) struct Inner {
    pub(crate) config: ProcessorConfig,
    worker_config: Mutex<WorkerConfig>,
    pub(crate) jobs: Arc<dyn JobStore>,
    items: Arc<dyn SchedulerStore>,
    pub(crate) clock: Arc<dyn Clock>,
    factories: RwLock<BTreeMap<String, JobFactory>>,
    pub(crate) job_added: Notify,
    pub(crate) item_added: Notify,
    running: Mutex<HashMap<(JobId, LeaseToken), CancellationToken>>,
    completions: Mutex<Vec<PendingCompletion>>,
    flushing: tokio::sync::Semaphore,
    events: broadcast::Sender<AttemptEvent>,
    worker: Mutex<Option<RunningLoop>>,
    scheduler: Mutex<Option<RunningLoop>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The façade an application holds: factories, jobs, scheduler items and the workers.
///
/// Cloning is cheap and every clone is the same processor.
#[derive(Clone)]
pub struct Processor {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Processor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Processor")
            .field("name", &self.inner.config.name)
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
        &self.inner.config.name
    }

    /// The current time of the processor's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    // ---- factories (R7) ----

    /// Registers a factory; a name registered twice is an error and nothing is overwritten.
    pub fn register(&self, factory: JobFactory) -> Result<()> {
        let mut factories = self
            .inner
            .factories
            .write()
            .unwrap_or_else(|e| e.into_inner());
        if factories.contains_key(&factory.info.name) {
            return Err(Error::DuplicateFactory(factory.info.name));
        }
        factories.insert(factory.info.name.clone(), factory);
        Ok(())
    }

    /// The registered factories, by name.
    pub fn factories(&self) -> Vec<FactoryInfo> {
        self.inner
            .factories
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(|f| f.info.clone())
            .collect()
    }

    // ---- jobs (R1, R4–R6) ----

    /// Adds a job of a registered factory; `None` input takes the factory's default (R1).
    pub async fn add_job(&self, name: &str, input: impl Into<Option<Value>>) -> Result<JobId> {
        self.insert_one(name, input.into(), None).await
    }

    /// Adds a job that is not pulled before `not_before` (R1).
    pub async fn add_job_at(
        &self,
        name: &str,
        input: impl Into<Option<Value>>,
        not_before: DateTime<Utc>,
    ) -> Result<JobId> {
        self.insert_one(name, input.into(), Some(not_before)).await
    }

    /// Adds many jobs of one factory in one store call.
    pub async fn add_jobs(&self, name: &str, inputs: Vec<Value>) -> Result<Vec<JobId>> {
        let now = self.now();
        let jobs: Vec<Job> = inputs
            .into_iter()
            .map(|input| self.new_job(name, Some(input), None, now))
            .collect::<Result<_>>()?;
        self.inner.jobs.insert_jobs(&jobs).await?;
        self.inner.job_added.notify_one();
        Ok(jobs.into_iter().map(|j| j.id).collect())
    }

    async fn insert_one(
        &self,
        name: &str,
        input: Option<Value>,
        not_before: Option<DateTime<Utc>>,
    ) -> Result<JobId> {
        let job = self.new_job(name, input, not_before, self.now())?;
        self.store_job(&job).await?;
        Ok(job.id)
    }

    /// Stores one job and wakes this process's idle workers.
    async fn store_job(&self, job: &Job) -> Result<()> {
        self.inner
            .jobs
            .insert_jobs(std::slice::from_ref(job))
            .await?;
        self.inner.job_added.notify_one();
        Ok(())
    }

    fn new_job(
        &self,
        name: &str,
        input: Option<Value>,
        not_before: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Job> {
        let info = self
            .inner
            .factory(name)
            .map(|f| f.info)
            .ok_or_else(|| Error::UnknownJob(name.to_string()))?;
        let input = input.unwrap_or(info.default_input);
        let mut job = Job::queued(name, input, info.max_retries, info.retry_delay, now);
        job.retry_time = not_before.map(to_millis);
        Ok(job)
    }

    /// A job as stored; an unknown id is [`Error::JobNotFound`].
    pub async fn get_job(&self, id: &JobId) -> Result<Job> {
        self.inner
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
        self.inner
            .jobs
            .job_errors(id)
            .await?
            .ok_or_else(|| Error::JobNotFound(id.clone()))
    }

    /// Jobs filtered by status and name, paged, newest first unless asked otherwise (R5).
    pub async fn list_jobs(&self, query: &JobQuery) -> Result<Vec<Job>> {
        self.inner.jobs.list_jobs(query).await
    }

    /// Number of jobs for every status, zeros included.
    pub async fn count_jobs(&self) -> Result<StatusCounts> {
        let mut counts = self.inner.jobs.count_jobs().await?;
        for status in JobStatus::ALL {
            counts.entry(status).or_insert(0);
        }
        Ok(counts)
    }

    /// Cancels a queued or processing job and signals its running handler (R4).
    pub async fn cancel_job(&self, id: &JobId) -> Result<CancelOutcome> {
        let now = self.now();
        let was = self
            .inner
            .jobs
            .cancel_job(id, now)
            .await?
            .ok_or_else(|| Error::JobNotFound(id.clone()))?;
        if matches!(was, JobStatus::Queued | JobStatus::Processing) {
            for ((job, _), token) in lock(&self.inner.running).iter() {
                if job == id {
                    token.cancel();
                }
            }
            info!(job = %id, "Job {id} cancelled");
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
        let mut removed = self.inner.jobs.remove_jobs(&statuses).await?;
        for status in statuses {
            removed.entry(status).or_insert(0);
        }
        Ok(removed)
    }

    // ---- manual processing (R13) ----

    /// Claims the next due job without running it.
    pub async fn pull_next_job(&self) -> Result<Option<Job>> {
        Ok(self.inner.claim(1).await?.pop())
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
        self.inner.run_attempt(job, None).await
    }

    /// Claims and runs the next due job; `false` when none was due.
    pub async fn process_next_job(&self) -> Result<bool> {
        match self.pull_next_job().await? {
            Some(job) => {
                self.inner.run_attempt(job, None).await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Fails every attempt whose lease expired, as R3 decides (R8); returns how many.
    pub async fn recover_expired_jobs(&self) -> Result<usize> {
        self.inner.recover_expired().await
    }

    // ---- workers (R10–R12) ----

    /// Events of every attempt this processor runs, from now on (for metrics and dashboards).
    pub fn subscribe(&self) -> broadcast::Receiver<AttemptEvent> {
        self.inner.events.subscribe()
    }

    /// Ids of the jobs whose handlers run in this processor now.
    pub fn running_jobs(&self) -> Vec<JobId> {
        let mut ids: Vec<JobId> = lock(&self.inner.running)
            .keys()
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// Changes the job worker used by the next `start_processor`.
    pub fn set_worker(&self, worker: WorkerConfig) {
        *lock(&self.inner.worker_config) = worker;
    }

    /// Starts the job worker; a no-op that logs "already running" when it runs.
    pub fn start_processor(&self) {
        let config = lock(&self.inner.worker_config).clone();
        let inner = self.inner.clone();
        start_loop(&self.inner.worker, &self.worker_name(), move |stop| {
            job_worker(inner, config, stop)
        });
    }

    /// Stops the job worker gracefully (R10) and waits until it ended.
    pub async fn stop_processor(&self) {
        stop_loop(&self.inner.worker).await;
    }

    /// True while the job worker runs.
    pub fn is_processing(&self) -> bool {
        is_running(&self.inner.worker)
    }

    /// Starts the scheduler worker; a no-op that logs "already running" when it runs.
    pub fn start_scheduler(&self) {
        let inner = self.inner.clone();
        let processor = self.clone();
        start_loop(&inner.scheduler, &self.scheduler_name(), move |stop| {
            scheduler_worker(processor, stop)
        });
    }

    /// Stops the scheduler worker and waits until it ended.
    pub async fn stop_scheduler(&self) {
        stop_loop(&self.inner.scheduler).await;
    }

    /// True while the scheduler worker runs.
    pub fn is_scheduling(&self) -> bool {
        is_running(&self.inner.scheduler)
    }

    pub(crate) fn worker_name(&self) -> String {
        format!("{}-worker", self.inner.config.name)
    }

    pub(crate) fn scheduler_name(&self) -> String {
        format!("{}-scheduler", self.inner.config.name)
    }

    pub(crate) fn scheduler_wait_time(&self) -> Duration {
        self.inner.config.scheduler_wait_time
    }

    pub(crate) fn item_added(&self) -> &Notify {
        &self.inner.item_added
    }

    // ---- scheduler items (R14–R17) ----

    /// Validates and stores an item; without `next_call_time` it gets the first firing after now.
    pub async fn add_scheduler_item(&self, mut item: SchedulerItem) -> Result<ItemId> {
        item.schedule.validate()?;
        let now = self.now();
        if item.next_call_time.is_none() {
            item.next_call_time = item.schedule.next_after(now);
        }
        settle_times(&mut item);
        self.inner.items.insert_item(&item).await?;
        self.inner.item_added.notify_one();
        Ok(item.id)
    }

    /// One item; an unknown id is [`Error::ItemNotFound`].
    pub async fn scheduler_item(&self, id: &ItemId) -> Result<SchedulerItem> {
        self.inner
            .items
            .get_item(id)
            .await?
            .ok_or_else(|| Error::ItemNotFound(id.clone()))
    }

    /// All items.
    pub async fn scheduler_items(&self) -> Result<Vec<SchedulerItem>> {
        self.inner.items.list_items().await
    }

    /// Replaces an item. A changed rule, or an item activated with a past call time, gets its
    /// next call time recomputed from now so that it does not fire for the time it was off.
    pub async fn update_scheduler_item(&self, mut item: SchedulerItem) -> Result<SchedulerItem> {
        item.schedule.validate()?;
        let stored = self.scheduler_item(&item.id).await?;
        let now = self.now();
        let rule_changed =
            stored.schedule != item.schedule && stored.next_call_time == item.next_call_time;
        let resumed = !stored.active && item.active && item.next_call_time.is_none_or(|t| t <= now);
        if rule_changed || resumed {
            item.next_call_time = item.schedule.next_after(now);
        }
        settle_times(&mut item);
        if !self.inner.items.update_item(&item).await? {
            return Err(Error::ItemNotFound(item.id));
        }
        self.inner.item_added.notify_one();
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
        if self.inner.items.delete_item(id).await? {
            Ok(())
        } else {
            Err(Error::ItemNotFound(id.clone()))
        }
    }

    /// Atomically takes the earliest due item: locks it for its `retry_delay` and advances its
    /// next call time to the first firing after now (R15). Missed firings fire once.
    pub async fn pull_next_scheduler_item(&self) -> Result<Option<SchedulerItem>> {
        let now = self.now();
        for _ in 0..MAX_TAKE_ROUNDS {
            let due = self.inner.items.due_items(now, 16).await?;
            if due.is_empty() {
                return Ok(None);
            }
            for mut item in due {
                let lock = add(now, item.retry_delay);
                let Some(take) = take_of(&item, now, Some(lock)) else {
                    continue;
                };
                if self.inner.items.take_item(&take).await? {
                    item.next_call_time = take.next_call_time;
                    item.retry_time = take.retry_time;
                    return Ok(Some(item));
                }
            }
        }
        warn!("due scheduler items were taken by others {MAX_TAKE_ROUNDS} times in a row; trying again next pass");
        Ok(None)
    }

    /// One scheduler pass: fires every due item (R15, R16); returns the number of jobs added.
    ///
    /// Each occurrence's job is stored first, under the id [`JobId::for_occurrence`] derives
    /// from the item and the occurrence, and the item is taken after, without a lock. A
    /// scheduler that dies between the two leaves the item due and its job stored: whoever
    /// fires it next finds the job there ([`Error::JobExists`]) and only takes the item, so no
    /// occurrence is lost or added twice, and none waits for a lock to expire.
    pub async fn fire_due_items(&self) -> Result<usize> {
        let mut added = 0;
        for _ in 0..MAX_TAKE_ROUNDS {
            let now = self.now();
            let due = self.inner.items.due_items(now, 16).await?;
            let mut took = false;
            for item in due {
                let Some(take) = take_of(&item, now, None) else {
                    continue;
                };
                let job = self
                    .store_occurrence(&item, take.expected_next_call_time, now)
                    .await?;
                if !self.inner.items.take_item(&take).await? {
                    continue;
                }
                took = true;
                if let Some(job) = job {
                    added += 1;
                    info!(item = %item.id, job = %job, "Scheduler item {} added job '{}'", item.id, item.job_name);
                }
            }
            if !took {
                return Ok(added);
            }
        }
        warn!("due scheduler items were taken by others {MAX_TAKE_ROUNDS} times in a row; trying again next pass");
        Ok(added)
    }

    /// Stores the job of `item`'s occurrence at `at` unless it is stored already; `None`, with
    /// the error logged, when no factory of the item's job name is registered (R16).
    async fn store_occurrence(
        &self,
        item: &SchedulerItem,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<JobId>> {
        let mut job = match self.new_job(&item.job_name, item.input.clone().into(), None, now) {
            Ok(job) => job,
            Err(Error::UnknownJob(name)) => {
                error!(
                    item = %item.id,
                    "Scheduler item {} cannot add unknown job '{name}'; it stays scheduled",
                    item.id
                );
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        job.id = JobId::for_occurrence(&item.id, at);
        match self.store_job(&job).await {
            Ok(()) | Err(Error::JobExists(_)) => Ok(Some(job.id)),
            Err(e) => Err(e),
        }
    }
}

/// The take of `item`'s due occurrence at `now` with the lock `retry_time`: next call time the
/// first firing after `now` (R15); `None` for an item without a next call time.
fn take_of(
    item: &SchedulerItem,
    now: DateTime<Utc>,
    retry_time: Option<DateTime<Utc>>,
) -> Option<Take> {
    Some(Take {
        id: item.id.clone(),
        expected_next_call_time: item.next_call_time?,
        next_call_time: item.schedule.next_after(now),
        retry_time,
        now,
    })
}

/// Cuts an item's times to milliseconds; a rule that never fires has no next call time (R17).
fn settle_times(item: &mut SchedulerItem) {
    item.next_call_time = item
        .next_call_time
        .filter(|_| item.schedule.fires())
        .map(to_millis);
    item.retry_time = item.retry_time.map(to_millis);
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
            error!("worker task ended abnormally: {e}");
        }
    }
}

fn is_running(slot: &Mutex<Option<RunningLoop>>) -> bool {
    lock(slot).as_ref().is_some_and(|l| !l.handle.is_finished())
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        format!("panic: {s}")
    } else if let Some(s) = payload.downcast_ref::<String>() {
        format!("panic: {s}")
    } else {
        "panic with a non-text payload".into()
    }
}

/// The failure of an attempt as R3 decides it.
fn failure_for(job: &Job, message: String, permanent: bool, now: DateTime<Utc>) -> Failure {
    let retry_at =
        (!permanent && job.retry_counter < job.max_retries).then(|| add(now, job.retry_delay));
    Failure {
        record: ErrorRecord::new(job.retry_counter, message, now),
        retry_at,
        now,
        lease_expired: false,
    }
}

impl Inner {
    fn factory(&self, name: &str) -> Option<JobFactory> {
        self.factories
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    fn pull_names(&self) -> Vec<String> {
        let factories = self.factories.read().unwrap_or_else(|e| e.into_inner());
        match &self.config.job_names {
            Some(names) => names
                .iter()
                .filter(|n| factories.contains_key(*n))
                .cloned()
                .collect(),
            None => factories.keys().cloned().collect(),
        }
    }

    /// Signals every running attempt of this processor to stop.
    pub(crate) fn cancel_running(&self) {
        for token in lock(&self.running).values() {
            token.cancel();
        }
    }

    pub(crate) async fn claim(&self, limit: usize) -> Result<Vec<Job>> {
        let names = self.pull_names();
        if names.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let now = self.clock.now();
        self.jobs
            .claim_jobs(&Claim {
                names: &names,
                now,
                lease_until: add(now, self.config.lease),
                token: LeaseToken::random(),
                limit,
            })
            .await
    }

    pub(crate) async fn recover_expired(&self) -> Result<usize> {
        let mut recovered = 0;
        loop {
            let now = self.clock.now();
            let expired = self.jobs.expired_leases(now, 100).await?;
            let batch = expired.len();
            for job in expired {
                let Some(token) = job.lease_token else {
                    continue;
                };
                let lease = job.lease_until.map(|t| t.to_rfc3339()).unwrap_or_default();
                let message = format!(
                    "worker lost: the lease of attempt {} expired at {lease}",
                    job.retry_counter
                );
                let mut failure = failure_for(&job, message, false, now);
                failure.lease_expired = true;
                if self.jobs.fail_job(&job.id, token, &failure).await? {
                    warn!(job = %job.id, "Job {} recovered after its worker was lost", job.id);
                    recovered += 1;
                }
            }
            if batch < 100 {
                return Ok(recovered);
            }
        }
    }

    /// Runs one claimed attempt and stores its outcome (R3, R4, R8); returns the status after.
    /// A worker's `slot` is released once the handler succeeded, before the completion is
    /// stored; after a failure it is held until the failure is stored, so that a retried job
    /// is back in the queue before the worker pulls again (R11).
    pub(crate) async fn run_attempt(
        self: &Arc<Self>,
        job: Job,
        mut slot: Option<Slot>,
    ) -> Result<JobStatus> {
        let token = job.lease_token.ok_or_else(|| Error::NotClaimed {
            id: job.id.clone(),
            status: job.status,
        })?;
        let cancel = CancellationToken::new();
        {
            let mut running = lock(&self.running);
            if running.contains_key(&(job.id.clone(), token)) {
                return Err(Error::AlreadyRunning(job.id));
            }
            running.insert((job.id.clone(), token), cancel.clone());
        }
        let span = tracing::info_span!("job", id = %job.id, name = %job.job_name, attempt = job.retry_counter);
        let due = job.retry_time.unwrap_or(job.queued_at).max(job.queued_at);
        self.emit(AttemptEvent::Started {
            job_id: job.id.clone(),
            job_name: job.job_name.clone(),
            attempt: job.retry_counter,
            queue_latency: job
                .picked_at
                .and_then(|picked| (picked - due).to_std().ok())
                .unwrap_or_default(),
        });
        let started = std::time::Instant::now();
        let result = self
            .execute(&job, token, cancel)
            .instrument(span.clone())
            .await;
        let run_time = started.elapsed();
        lock(&self.running).remove(&(job.id.clone(), token));
        let mut _storing = None;
        if result.is_ok() {
            if let Some(Slot { running, storing }) = slot.take() {
                _storing = storing.acquire_owned().await.ok();
                drop(running);
            }
        }
        let now = self.clock.now();
        let (outcome, applied) = match result {
            Ok(output) => (
                AttemptOutcome::Completed,
                self.complete(Completion {
                    id: job.id.clone(),
                    token,
                    output,
                    now,
                })
                .await?,
            ),
            Err((message, permanent)) => {
                span.in_scope(|| {
                    warn!(
                        "Job {} attempt {} failed: {message}",
                        job.id, job.retry_counter
                    )
                });
                let failure = failure_for(&job, message, permanent, now);
                let outcome = if failure.retry_at.is_some() {
                    AttemptOutcome::Retrying
                } else {
                    AttemptOutcome::Failed
                };
                (
                    outcome,
                    self.with_retries(|| self.jobs.fail_job(&job.id, token, &failure))
                        .await?,
                )
            }
        };
        let (outcome, status) = if applied {
            let status = match outcome {
                AttemptOutcome::Completed => JobStatus::Completed,
                AttemptOutcome::Retrying => JobStatus::Queued,
                _ => JobStatus::Error,
            };
            (outcome, status)
        } else {
            let status = self
                .jobs
                .get_job(&job.id)
                .await?
                .map(|j| j.status)
                .ok_or_else(|| Error::JobNotFound(job.id.clone()))?;
            info!(job = %job.id, "Outcome of job {} attempt {} dropped: the job is {status}", job.id, job.retry_counter);
            (AttemptOutcome::Dropped(status), status)
        };
        self.emit(AttemptEvent::Finished {
            job_id: job.id.clone(),
            job_name: job.job_name.clone(),
            attempt: job.retry_counter,
            run_time,
            outcome,
        });
        Ok(status)
    }

    /// Stores a completion together with the others that finish meanwhile (group commit): a
    /// few callers at a time each store what is pending in one `complete_jobs` call, so
    /// concurrent attempts share round trips and commits while a lone attempt waits for none.
    /// Every caller takes its turn, so nothing pending is left behind.
    async fn complete(&self, completion: Completion) -> Result<bool> {
        let (tx, rx) = oneshot::channel();
        lock(&self.completions).push((completion, tx));
        {
            let _flushing = self
                .flushing
                .acquire()
                .await
                .map_err(|_| Error::store_msg("the processor stopped storing completions"))?;
            let batch: Vec<PendingCompletion> = {
                let mut pending = lock(&self.completions);
                let take = pending.len().min(MAX_COMPLETION_BATCH);
                pending.drain(..take).collect()
            };
            if !batch.is_empty() {
                let (completions, waiters): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
                let answer = match self
                    .with_retries(|| self.jobs.complete_jobs(&completions))
                    .await
                {
                    Ok(applied) if applied.len() == completions.len() => Ok(applied),
                    Ok(applied) => Err(format!(
                        "the store answered {} of {} completions",
                        applied.len(),
                        completions.len()
                    )),
                    Err(e) => Err(crate::error::error_chain(&e)),
                };
                match answer {
                    Ok(applied) => {
                        for (waiter, applied) in waiters.into_iter().zip(applied) {
                            let _ = waiter.send(Ok(applied));
                        }
                    }
                    Err(message) => {
                        for waiter in waiters {
                            let _ = waiter.send(Err(message.clone()));
                        }
                    }
                }
            }
        }
        match rx.await {
            Ok(Ok(applied)) => Ok(applied),
            Ok(Err(message)) => Err(Error::store_msg(message)),
            Err(_) => Err(Error::store_msg("the completion was not stored")),
        }
    }

    fn emit(&self, event: AttemptEvent) {
        let _ = self.events.send(event);
    }

    /// Runs the handler with lease renewal beside it; `Err((message, permanent))` on failure.
    async fn execute(
        self: &Arc<Self>,
        job: &Job,
        token: LeaseToken,
        cancel: CancellationToken,
    ) -> Result<Value, (String, bool)> {
        let Some(factory) = self.factory(&job.job_name) else {
            return Err((
                format!(
                    "unknown job '{}': no job factory of that name is registered in processor '{}'",
                    job.job_name, self.config.name
                ),
                false,
            ));
        };
        let ctx = JobContext::new(
            job.id.clone(),
            job.job_name.clone(),
            job.retry_counter,
            job.input.clone(),
            cancel.clone(),
        );
        let handler = factory.handler.clone();
        let run = tokio::spawn(
            async move { handler.run(ctx).await }.instrument(tracing::Span::current()),
        );
        let renew = self.renew_lease(&job.id, token, cancel);
        tokio::pin!(run, renew);
        let joined = tokio::select! {
            joined = &mut run => joined,
            () = &mut renew => run.await,
        };
        match joined {
            Ok(Ok(output)) => Ok(output),
            Ok(Err(e)) => Err((e.message().to_string(), e.is_permanent())),
            Err(join) if join.is_panic() => Err((panic_message(join.into_panic().as_ref()), false)),
            Err(join) => Err((format!("handler task ended: {join}"), false)),
        }
    }

    /// Renews the lease every third of its length until the attempt is cancelled or the
    /// renewal is refused (then the handler is told to stop).
    async fn renew_lease(&self, id: &JobId, token: LeaseToken, cancel: CancellationToken) {
        let every = (self.config.lease / 3).max(Duration::from_millis(10));
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
            let lease_until = add(self.clock.now(), self.config.lease);
            match self.jobs.renew_lease(id, token, lease_until).await {
                Ok(true) => {}
                Ok(false) => {
                    info!(job = %id, "Lease of job {id} lost (cancelled or recovered); signalling its handler");
                    cancel.cancel();
                    return;
                }
                Err(e) => warn!(job = %id, "Lease renewal of job {id} failed: {e}"),
            }
        }
    }

    /// Retries a store call after store errors (R22); the lease token makes retries safe.
    async fn with_retries<T, F, Fut>(&self, mut call: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let mut pause = Duration::from_millis(50);
        let mut tries = 0;
        loop {
            match call().await {
                Err(e) if e.is_store() && tries < 5 => {
                    warn!("store call failed, retrying in {pause:?}: {e}");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                    tries += 1;
                }
                other => return other,
            }
        }
    }
}
