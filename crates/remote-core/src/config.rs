//! A processor's settings.

use std::time::Duration;

use crate::retention::Retention;
use crate::worker::WorkerConfig;

/// Default lease of a claimed attempt (R8).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// Settings of a processor; see [`ProcessorBuilder`](crate::ProcessorBuilder).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ProcessorConfig {
    /// Name in logs and worker names (`<name>-worker`, `<name>-scheduler`).
    pub name: String,
    /// The job worker started by `start_processor`.
    pub worker: WorkerConfig,
    /// Pause of the scheduler worker between passes.
    pub scheduler_wait_time: Duration,
    /// Lease of each claimed attempt; renewed every third of it while the attempt is held.
    pub lease: Duration,
    /// How long `stop_processor` waits for running jobs before signalling cancellation.
    pub grace: Duration,
    /// How often a running job worker recovers expired leases.
    pub recover_interval: Duration,
    /// How long a timed-out handler gets to stop after being told, before it is dropped (R28).
    pub timeout_grace: Duration,
    /// How long finished jobs are kept before pruning removes them (R33).
    pub retention: Retention,
    /// How often job workers prune; one process at a time does it (R33).
    pub prune_interval: Duration,
    /// Pull only these registered names (m01.remote's `jobQuery`); all registered when `None`.
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
            timeout_grace: Duration::from_secs(5),
            retention: Retention::default(),
            prune_interval: Duration::from_secs(60),
            job_names: None,
        }
    }
}
