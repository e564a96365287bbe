//! Job worker settings: simple or multi, concurrency, prefetch and the idle pause
//! (R11, R12, R24).

use std::time::Duration;

/// A multi worker's default `max_prefetch`, whatever its concurrency: the prefetch grows only
/// while claims cannot keep the slots busy, so a short-job worker of any concurrency may claim
/// as far ahead as the benchmarks' fixed prefetch.
const MAX_DEFAULT_PREFETCH: usize = 1_000;

/// How a job worker runs jobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkerKind {
    /// One job at a time, strictly in pull order (R11).
    Simple,
    /// Up to `concurrency` jobs at once (R12).
    Multi,
}

/// Settings of the job worker started by `start_processor`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerConfig {
    /// Simple or multi.
    pub kind: WorkerKind,
    /// Jobs run at once: 1 for a simple worker; for a multi worker the bound it was made
    /// with (default: the machine's CPU count).
    pub concurrency: usize,
    /// Jobs claimed beyond the free slots and held, leases renewed, until a slot frees (R24).
    /// Claiming ahead saves round trips when jobs are short; a held job waits for this
    /// worker, so keep it small when jobs run long. Default: 0 for a simple worker, the
    /// concurrency for a multi worker.
    pub prefetch: usize,
    /// How far the prefetch may grow while the worker's slots run dry waiting for claims
    /// (R24); it falls back towards `prefetch` when they do not and to it when the queue
    /// drains. Default: `prefetch` for a simple worker (fixed), 1,000 (or the concurrency, if
    /// larger) for a multi worker. A crash leaves what the worker holds to lease recovery, so
    /// lower it where a lost claim of many jobs costs more than round trips do.
    pub max_prefetch: usize,
    /// Pause when the queue is empty, cut short when a job is added (default 1 s).
    pub wait_time: Duration,
}

impl WorkerConfig {
    /// A simple worker: one job at a time, in pull order, nothing claimed ahead.
    pub fn simple() -> Self {
        Self {
            kind: WorkerKind::Simple,
            concurrency: 1,
            prefetch: 0,
            max_prefetch: 0,
            wait_time: Duration::from_secs(1),
        }
    }

    /// A multi worker running up to `concurrency` jobs at once (at least 1), claiming as many
    /// again ahead, and more while short jobs leave its slots waiting for claims.
    pub fn multi(concurrency: usize) -> Self {
        let concurrency = concurrency.max(1);
        Self {
            kind: WorkerKind::Multi,
            concurrency,
            prefetch: concurrency,
            max_prefetch: MAX_DEFAULT_PREFETCH.max(concurrency),
            wait_time: Duration::from_secs(1),
        }
    }

    /// Sets the idle pause.
    pub fn wait_time(mut self, wait: Duration) -> Self {
        self.wait_time = wait;
        self
    }

    /// Fixes how many jobs the worker claims beyond its free slots (R24): `max_prefetch`
    /// becomes the same, so call [`WorkerConfig::max_prefetch`] after this to let it grow.
    pub fn prefetch(mut self, jobs: usize) -> Self {
        self.prefetch = jobs;
        self.max_prefetch = jobs;
        self
    }

    /// Lets the prefetch grow up to `jobs` (never below `prefetch`) while the worker's slots
    /// run dry waiting for claims (R24).
    pub fn max_prefetch(mut self, jobs: usize) -> Self {
        self.max_prefetch = jobs.max(self.prefetch);
        self
    }
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self::multi(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }
}
