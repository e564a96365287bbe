//! What every part of a processor shares: its stores, clock, settings, factories, the attempts
//! it holds and the channels that wake its workers and report its attempts.
//!
//! Nothing here depends on the parts that use it (producer, executor, completer, lease keeper,
//! rescuer, firing), so those depend on this module and never on each other's internals.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::{broadcast, Notify};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::clock::{add, to_millis, Clock};
use crate::config::ProcessorConfig;
use crate::error::{Error, Result};
use crate::event::AttemptEvent;
use crate::factory::JobFactory;
use crate::id::{JobId, LeaseToken};
use crate::job::{Job, JobOptions};
use crate::store::{ClaimJobs, JobStore, Lease, SchedulerStore};
use crate::trace;

/// Events kept for a slow subscriber before it starts missing some.
const EVENT_BUFFER: usize = 4096;

/// Attempts of a store call that failed with a store error before the error is returned.
const STORE_CALL_TRIES: u32 = 6;

/// An attempt this processor holds: claimed and waiting in a worker's buffer, or running.
#[derive(Debug)]
pub(crate) struct Held {
    /// Signals the attempt to stop: a running handler sees it in its context; a waiting job
    /// is dropped from the buffer.
    pub(crate) cancel: CancellationToken,
    /// True once its handler started.
    pub(crate) running: bool,
}

/// The state of one processor that its façade, workers and scheduler share.
pub(crate) struct Shared {
    pub(crate) config: ProcessorConfig,
    pub(crate) jobs: Arc<dyn JobStore>,
    pub(crate) items: Arc<dyn SchedulerStore>,
    pub(crate) clock: Arc<dyn Clock>,
    factories: RwLock<BTreeMap<String, Arc<JobFactory>>>,
    /// Signalled when this process added a job.
    pub(crate) job_added: Notify,
    /// Signalled when this process added or changed a scheduler item.
    pub(crate) item_added: Notify,
    held: Mutex<HashMap<Lease, Held>>,
    events: broadcast::Sender<AttemptEvent>,
    /// Job names paused in the store, as last read (R31).
    paused: RwLock<Vec<String>>,
    /// This processor instance's name among processes: its name and a random suffix.
    instance: String,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub(crate) fn new(
        config: ProcessorConfig,
        jobs: Arc<dyn JobStore>,
        items: Arc<dyn SchedulerStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let config_name = config.name.clone();
        Self {
            config,
            jobs,
            items,
            clock,
            factories: RwLock::new(BTreeMap::new()),
            job_added: Notify::new(),
            item_added: Notify::new(),
            held: Mutex::new(HashMap::new()),
            events: broadcast::channel(EVENT_BUFFER).0,
            paused: RwLock::new(Vec::new()),
            instance: format!("{}-{:08x}", config_name, rand::random::<u32>()),
        }
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    // ---- factories ----

    /// Registers a factory; a name registered twice is refused (R7).
    pub(crate) fn register(&self, factory: JobFactory) -> Result<()> {
        let mut factories = self.factories.write().unwrap_or_else(|e| e.into_inner());
        if factories.contains_key(&factory.info.name) {
            return Err(Error::DuplicateFactory(factory.info.name));
        }
        factories.insert(factory.info.name.clone(), Arc::new(factory));
        Ok(())
    }

    pub(crate) fn factories(&self) -> Vec<Arc<JobFactory>> {
        self.factories
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    pub(crate) fn factory(&self, name: &str) -> Option<Arc<JobFactory>> {
        self.factories
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// The names this processor pulls: registered ones, narrowed by `job_names` (R7), less
    /// the paused ones (R31).
    pub(crate) fn pull_names(&self) -> Vec<String> {
        let factories = self.factories.read().unwrap_or_else(|e| e.into_inner());
        let paused = self.paused.read().unwrap_or_else(|e| e.into_inner());
        let pulled = |n: &&String| factories.contains_key(*n) && !paused.contains(n);
        match &self.config.job_names {
            Some(names) => names.iter().filter(pulled).cloned().collect(),
            None => factories.keys().filter(pulled).cloned().collect(),
        }
    }

    /// Reads the paused job names from the store (R31).
    pub(crate) async fn refresh_paused(&self) -> Result<()> {
        let paused: Vec<String> = self
            .jobs
            .paused_names()
            .await?
            .into_iter()
            .map(|p| p.name)
            .collect();
        *self.paused.write().unwrap_or_else(|e| e.into_inner()) = paused;
        Ok(())
    }

    /// This processor instance's name among processes.
    pub(crate) fn instance(&self) -> &str {
        &self.instance
    }

    /// A queued job of a registered factory with the factory's defaults, overridden by
    /// `options`; `None` input takes the factory's default (R1, R26–R28).
    pub(crate) fn new_job(
        &self,
        name: &str,
        input: Option<Value>,
        options: &JobOptions,
        now: DateTime<Utc>,
    ) -> Result<Job> {
        let factory = self
            .factory(name)
            .ok_or_else(|| Error::UnknownJob(name.to_string()))?;
        let info = &factory.info;
        let input = input.unwrap_or_else(|| info.default_input.clone());
        let mut job = Job::queued(name, input, info.max_attempts, info.retry_delay, now);
        job.not_before = options.not_before.map(to_millis);
        job.priority = options.priority.unwrap_or(info.priority);
        job.timeout = options.timeout.or(info.timeout);
        job.trace_context = match &options.trace_context {
            Some(given) => trace::validate(given).map(|()| Some(given.clone()))?,
            None => trace::current(),
        };
        if let Some(unique) = options.unique.as_ref().or(info.unique.as_ref()) {
            job.unique_key = Some(unique.key_for(name, &job.input));
            job.unique_across = unique.across;
        }
        Ok(job)
    }

    // ---- claims and held attempts ----

    /// Claims up to `limit` due jobs of the names this processor pulls (R2), under a fresh
    /// token and the configured lease.
    pub(crate) async fn claim(&self, limit: usize) -> Result<Vec<Job>> {
        let names = self.pull_names();
        if names.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let now = self.now();
        self.jobs
            .claim_jobs(&ClaimJobs {
                names: &names,
                now,
                lease_until: add(now, self.config.lease),
                token: LeaseToken::random(),
                limit,
            })
            .await
    }

    /// Records that this processor holds `job`'s claimed attempt; `None` when it holds that
    /// attempt already.
    pub(crate) fn hold(&self, job: &Job, running: bool) -> Option<CancellationToken> {
        let lease = Lease {
            id: job.id.clone(),
            token: job.lease_token?,
        };
        let mut held = lock(&self.held);
        if held.contains_key(&lease) {
            return None;
        }
        let cancel = CancellationToken::new();
        held.insert(
            lease,
            Held {
                cancel: cancel.clone(),
                running,
            },
        );
        Some(cancel)
    }

    /// Marks a held attempt as running.
    pub(crate) fn mark_running(&self, lease: &Lease) {
        if let Some(held) = lock(&self.held).get_mut(lease) {
            held.running = true;
        }
    }

    /// Forgets a held attempt.
    pub(crate) fn unhold(&self, lease: &Lease) {
        lock(&self.held).remove(lease);
    }

    /// The leases of every attempt this processor holds.
    pub(crate) fn held_leases(&self) -> Vec<Lease> {
        lock(&self.held).keys().cloned().collect()
    }

    /// True when this processor holds the attempt.
    pub(crate) fn holds(&self, lease: &Lease) -> bool {
        lock(&self.held).contains_key(lease)
    }

    /// Signals every held attempt of `id` (a cancel, R4).
    pub(crate) fn signal(&self, id: &JobId) {
        for (lease, held) in lock(&self.held).iter() {
            if lease.id == *id {
                held.cancel.cancel();
            }
        }
    }

    /// Signals the held attempt of `lease` (its lease was lost).
    pub(crate) fn signal_lease(&self, lease: &Lease) {
        if let Some(held) = lock(&self.held).get(lease) {
            held.cancel.cancel();
        }
    }

    /// Signals every running attempt of this processor to stop.
    pub(crate) fn cancel_running(&self) {
        for held in lock(&self.held).values().filter(|h| h.running) {
            held.cancel.cancel();
        }
    }

    /// Ids of the jobs whose handlers run in this processor now, sorted, each once.
    pub(crate) fn running_jobs(&self) -> Vec<JobId> {
        let mut ids: Vec<JobId> = lock(&self.held)
            .iter()
            .filter(|(_, h)| h.running)
            .map(|(lease, _)| lease.id.clone())
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    // ---- events ----

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<AttemptEvent> {
        self.events.subscribe()
    }

    pub(crate) fn emit(&self, event: AttemptEvent) {
        if self.events.receiver_count() > 0 {
            let _ = self.events.send(event);
        }
    }

    /// True when someone listens to attempt events.
    pub(crate) fn has_listeners(&self) -> bool {
        self.events.receiver_count() > 0
    }

    /// Retries a store call after store errors (R22), pausing 50 ms, then twice as long each
    /// time; the lease token makes repeating an outcome safe.
    pub(crate) async fn with_retries<T, F, Fut>(&self, mut call: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let mut pause = Duration::from_millis(50);
        let mut tries = 1;
        loop {
            match call().await {
                Err(e) if e.is_store() && tries < STORE_CALL_TRIES => {
                    warn!(error = %e, retry_in = ?pause, "store call failed; retrying");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                    tries += 1;
                }
                other => return other,
            }
        }
    }
}
