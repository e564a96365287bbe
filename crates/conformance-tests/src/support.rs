//! What the cases share: the store handle, a harness with a manual clock and the reference
//! job factories, and the runner the macro calls.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use futures::FutureExt;
use remote_core::{
    handler_fn, JobContext, JobError, JobFactory, JobId, JobStatus, JobStore, ManualClock,
    Processor, SchedulerStore, Store, WorkerConfig,
};
use serde_json::{json, Value};

use crate::factory::{CaseInput, Handles, IntoHandles};

/// A future run when a handle is closed, or after a case.
pub type Cleanup = Pin<Box<dyn Future<Output = ()> + Send>>;

/// One handle on a store's data, handed to a case.
pub struct TestStore {
    /// Its job side.
    pub jobs: Arc<dyn JobStore>,
    /// Its scheduler side.
    pub items: Arc<dyn SchedulerStore>,
    cleanup: Option<Cleanup>,
    handles: Option<Handles>,
}

impl std::fmt::Debug for TestStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestStore").finish_non_exhaustive()
    }
}

impl TestStore {
    /// Wraps a store holding both jobs and scheduler items.
    pub fn new<S: Store>(store: S) -> Self {
        Self::from_arc(Arc::new(store))
    }

    /// Wraps a shared store holding both jobs and scheduler items.
    pub fn from_arc<S: Store>(store: Arc<S>) -> Self {
        Self::from_parts(store.clone(), store)
    }

    /// Wraps a job store and a scheduler store on the same data.
    pub fn from_parts(jobs: Arc<dyn JobStore>, items: Arc<dyn SchedulerStore>) -> Self {
        Self {
            jobs,
            items,
            cleanup: None,
            handles: None,
        }
    }

    /// Adds a future run when this handle is closed ([`close`](Self::close),
    /// [`reopen`](Self::reopen)); in the one-argument form of
    /// [`conformance_suite!`](crate::conformance_suite), where every handle is the first one,
    /// it runs after the case.
    pub fn with_cleanup(mut self, cleanup: impl Future<Output = ()> + Send + 'static) -> Self {
        self.cleanup = Some(Box::pin(cleanup));
        self
    }

    pub(crate) fn take_cleanup(&mut self) -> Option<Cleanup> {
        self.cleanup.take()
    }

    pub(crate) fn opened_by(mut self, handles: Handles) -> Self {
        self.handles = Some(handles);
        self
    }

    /// The data this handle was opened on.
    pub fn handles(&self) -> Handles {
        self.handles
            .clone()
            .expect("a handle opened by the suite knows its data")
    }

    /// Another handle on the same data, as another process would open it.
    pub async fn another_handle(&self) -> TestStore {
        self.handles().open().await
    }

    /// Closes this handle: drops it and runs its cleanup.
    pub async fn close(mut self) {
        let cleanup = self.cleanup.take();
        drop(self);
        if let Some(cleanup) = cleanup {
            cleanup.await;
        }
    }

    /// Closes this handle and opens a new one on the same data.
    pub async fn reopen(self) -> TestStore {
        let handles = self.handles();
        self.close().await;
        handles.open().await
    }
}

/// Runs one case on the data `make` gives (a [`TestStore`] in the one-argument form,
/// [`Handles`] in the factory form), then the data's cleanup; the macro calls this.
pub fn run<M, MF, H, I, T, TF>(make: M, case: T)
where
    M: FnOnce() -> MF,
    MF: Future<Output = H>,
    H: IntoHandles,
    I: CaseInput,
    T: FnOnce(I) -> TF,
    TF: Future<Output = ()>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("a tokio runtime for the case");
    runtime.block_on(async move {
        let handles = make().await.into_handles();
        let input = I::prepare(&handles).await;
        let outcome = AssertUnwindSafe(case(input)).catch_unwind().await;
        handles.cleanup().await;
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    });
}

/// How long a case waits in real time for a handler, a task or a signal before it fails: a
/// guard against hangs, long enough for the slowest store under a full parallel test run.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The start of every harness clock: 2026-01-01T00:00:00Z.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("valid time")
}

/// `t` as UTC from an RFC 3339 text (test-only helper).
pub fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("valid RFC 3339 time in a test")
        .with_timezone(&Utc)
}

/// A store, a manual clock and a processor named `root` with the reference factories.
pub struct Harness {
    /// The store under test.
    pub jobs: Arc<dyn JobStore>,
    /// Its scheduler side.
    pub items: Arc<dyn SchedulerStore>,
    /// The clock every processor of this harness reads.
    pub clock: Arc<ManualClock>,
    /// The processor `root` with `echo`, `error`, `fatal`, `panic` and `sleep` registered.
    pub p: Processor,
    /// What the `sleep` jobs and `record` events logged, in order ("Job: 1", …).
    pub log: Arc<Mutex<Vec<String>>>,
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness")
            .field("processor", &self.p)
            .finish_non_exhaustive()
    }
}

impl Harness {
    /// A harness over `store` with the clock at [`t0`].
    pub fn new(store: TestStore) -> Self {
        Self::at(store, t0())
    }

    /// A harness over `store` with the clock at `start`.
    pub fn at(store: TestStore, start: DateTime<Utc>) -> Self {
        let clock = Arc::new(ManualClock::new(start));
        let log = Arc::new(Mutex::new(Vec::new()));
        let p = Processor::builder_with(store.jobs.clone(), store.items.clone())
            .clock(clock.clone())
            .worker(WorkerConfig::simple().wait_time(Duration::from_millis(20)))
            .scheduler_wait_time(Duration::from_millis(20))
            .build();
        for factory in reference_factories(&log) {
            p.register(factory).expect("fresh processor");
        }
        Self {
            jobs: store.jobs,
            items: store.items,
            clock,
            p,
            log,
        }
    }

    /// Another processor on the same store and clock, without factories.
    pub fn processor(&self, name: &str) -> Processor {
        Processor::builder_with(self.jobs.clone(), self.items.clone())
            .name(name)
            .clock(self.clock.clone())
            .worker(WorkerConfig::simple().wait_time(Duration::from_millis(20)))
            .scheduler_wait_time(Duration::from_millis(20))
            .build()
    }

    /// A processor without factories on another handle's store (as another process would
    /// run it), with this harness's clock.
    pub fn processor_on(&self, store: &TestStore, name: &str) -> Processor {
        Processor::builder_with(store.jobs.clone(), store.items.clone())
            .name(name)
            .clock(self.clock.clone())
            .worker(WorkerConfig::simple().wait_time(Duration::from_millis(20)))
            .scheduler_wait_time(Duration::from_millis(20))
            .build()
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// The log so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Clears the log.
    pub fn clear_log(&self) {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// A job's status, which must exist.
    pub async fn status(&self, id: &JobId) -> JobStatus {
        self.p.job_status(id).await.expect("job exists")
    }

    /// Waits (real time, bounded) until `done` holds for the log; panics with the log if not.
    pub async fn wait_for_log(&self, what: &str, done: impl Fn(&[String]) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if done(&self.log()) {
                return;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("timed out waiting for {what}; log: {:?}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Waits (real time, bounded) on `events` until an attempt of the job has started: its
    /// handler runs, where a `processing` status alone may be a job claimed ahead (R23).
    pub async fn wait_for_start(
        &self,
        events: &mut tokio::sync::broadcast::Receiver<remote_core::AttemptEvent>,
        id: &JobId,
    ) {
        let started = async {
            loop {
                match events.recv().await {
                    Ok(remote_core::AttemptEvent::Started { job_id, .. }) if &job_id == id => {
                        return
                    }
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                        panic!("the processor's events ended before job {id} started")
                    }
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(20), started)
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for job {id} to start"));
    }

    /// Waits (real time, bounded) until the job has `status`.
    pub async fn wait_for_status(&self, id: &JobId, status: JobStatus) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let now = self.status(id).await;
            if now == status {
                return;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("timed out waiting for job {id} to be {status}; it is {now}");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Milliseconds per second of the `sleep` job, so the doctests' timings run 2.5× faster.
pub const SLEEP_MS_PER_SECOND: f64 = 400.0;

fn push(log: &Mutex<Vec<String>>, line: String) {
    log.lock().unwrap_or_else(|e| e.into_inner()).push(line);
}

/// The reference test jobs, those of m01.remote's doctests: `echo`, `error` (permanent), `fatal` (retryable), `panic`, and `sleep`
/// taking `[seconds, n]`, which sleeps then logs "Job: n".
pub fn reference_factories(log: &Arc<Mutex<Vec<String>>>) -> Vec<JobFactory> {
    let sleep_log = log.clone();
    vec![
        JobFactory::new(
            "echo",
            handler_fn(|ctx: JobContext| async move { Ok::<_, JobError>(ctx.input) }),
        ),
        JobFactory::new(
            "error",
            handler_fn(|_ctx: JobContext| async move {
                Err::<Value, _>(JobError::permanent("An error occurred."))
            }),
        ),
        JobFactory::new(
            "fatal",
            handler_fn(|_ctx: JobContext| async move {
                Err::<Value, _>(JobError::retryable("A fatal error occurred."))
            }),
        ),
        JobFactory::new(
            "panic",
            handler_fn(|_ctx: JobContext| async move {
                if true {
                    panic!("the handler panicked");
                }
                Ok::<Value, JobError>(Value::Null)
            }),
        ),
        JobFactory::new(
            "sleep",
            handler_fn(move |ctx: JobContext| {
                let log = sleep_log.clone();
                async move {
                    let (seconds, n): (f64, i64) = ctx.input_as()?;
                    let ms = (seconds * SLEEP_MS_PER_SECOND).max(0.0) as u64;
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    push(&log, format!("Job: {n}"));
                    Ok::<_, JobError>(json!(n))
                }
            }),
        )
        .retry_delay(Duration::from_secs(1)),
    ]
}

/// The `flaky` job of the ordering cases: logs `n.attempt` for input `{"n": n}` and fails the
/// first attempt of job 1 (retryable, no delay, three attempts in all).
pub fn flaky_job(log: &Arc<Mutex<Vec<String>>>) -> JobFactory {
    let log = log.clone();
    JobFactory::new(
        "flaky",
        handler_fn(move |ctx: JobContext| {
            let log = log.clone();
            async move {
                let n = ctx.input["n"].as_u64().unwrap_or_default();
                push(&log, format!("{n}.{}", ctx.attempt));
                if n == 1 && ctx.attempt == 1 {
                    return Err(JobError::retryable("first attempt of job 1 fails"));
                }
                Ok(Value::Null)
            }
        }),
    )
    .max_attempts(3)
    .retry_delay(Duration::ZERO)
}

// ---- log capture and concurrency gauge (workers, doctest scenarios and scheduler areas) ----

/// Where [`watch_logs`] sends matching lines.
struct LogWatchEntry {
    key: u64,
    needle: String,
    level: tracing::Level,
    into: Arc<Mutex<Vec<String>>>,
}

static LOG_WATCHES: Mutex<Vec<LogWatchEntry>> = Mutex::new(Vec::new());
static LOG_WATCH_KEYS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
static LOG_SPAN_IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
static LOG_CAPTURE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// The process-wide subscriber behind [`watch_logs`]: hands each event's message to the watches.
struct LogCapture;

struct MessageText(String);

/// An event as one line: its message, then its other fields as `name=value`.
impl tracing::field::Visit for MessageText {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.push(field, format!("{value:?}"));
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.push(field, value.to_string());
    }
}

impl MessageText {
    fn push(&mut self, field: &tracing::field::Field, value: String) {
        if field.name() == "message" {
            self.0.insert_str(0, &value);
        } else {
            self.0.push_str(&format!(" {}={value}", field.name()));
        }
    }
}

impl tracing::Subscriber for LogCapture {
    fn enabled(&self, _metadata: &tracing::Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(LOG_SPAN_IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    }

    fn record(&self, _span: &tracing::span::Id, _values: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _span: &tracing::span::Id, _follows: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let level = *event.metadata().level();
        let watches = LOG_WATCHES.lock().unwrap_or_else(|e| e.into_inner());
        if watches.is_empty() {
            return;
        }
        let mut text = MessageText(String::new());
        event.record(&mut text);
        for watch in watches.iter() {
            // tracing orders levels by verbosity: ERROR < WARN < INFO < DEBUG < TRACE.
            if level <= watch.level && text.0.contains(&watch.needle) {
                push(&watch.into, text.0.clone());
            }
        }
    }

    fn enter(&self, _span: &tracing::span::Id) {}

    fn exit(&self, _span: &tracing::span::Id) {}
}

/// Stops a [`watch_logs`] watch when dropped.
pub struct LogWatch {
    key: u64,
}

impl std::fmt::Debug for LogWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogWatch").field("key", &self.key).finish()
    }
}

impl Drop for LogWatch {
    fn drop(&mut self) {
        LOG_WATCHES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|w| w.key != self.key);
    }
}

/// While the guard lives, appends to `into` the message of every log event (from any thread)
/// that contains `needle` and is at `level` or more severe. Installs a process-wide capturing
/// `tracing` subscriber on first use; panics if another global subscriber is installed.
/// Use a needle unique to the test (a processor name from [`unique_name`], an item id).
pub fn watch_logs(
    needle: impl Into<String>,
    level: tracing::Level,
    into: Arc<Mutex<Vec<String>>>,
) -> LogWatch {
    let installed =
        *LOG_CAPTURE.get_or_init(|| tracing::subscriber::set_global_default(LogCapture).is_ok());
    assert!(
        installed,
        "another global tracing subscriber is installed; log capture cannot work"
    );
    let key = LOG_WATCH_KEYS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    LOG_WATCHES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(LogWatchEntry {
            key,
            needle: needle.into(),
            level,
            into,
        });
    LogWatch { key }
}

/// `prefix` with a suffix unique in this process, for processor names in watched logs.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!(
        "{prefix}-{n}-{}",
        &remote_core::ItemId::new().as_str()[18..]
    )
}

/// Counts handlers running at once and the most seen.
#[derive(Clone, Debug, Default)]
pub struct Gauge {
    running: Arc<std::sync::atomic::AtomicUsize>,
    max: Arc<std::sync::atomic::AtomicUsize>,
}

/// One running handler of a [`Gauge`]; leaving ends it.
pub struct GaugeGuard(Gauge);

impl std::fmt::Debug for GaugeGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("GaugeGuard").field(&self.0).finish()
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0
            .running
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Gauge {
    /// Marks a handler as running until the guard drops.
    pub fn enter(&self) -> GaugeGuard {
        let now = self
            .running
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        self.max.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
        GaugeGuard(self.clone())
    }

    /// Handlers running now.
    pub fn running(&self) -> usize {
        self.running.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The most handlers seen running at once.
    pub fn max(&self) -> usize {
        self.max.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// A factory like the reference `sleep` (input `[seconds, n]`, sleeps, logs "Job: n" into `log`)
/// that also counts itself in `gauge` while it runs.
pub fn gauged_sleep(name: &str, log: &Arc<Mutex<Vec<String>>>, gauge: &Gauge) -> JobFactory {
    let log = log.clone();
    let gauge = gauge.clone();
    JobFactory::new(
        name,
        handler_fn(move |ctx: JobContext| {
            let log = log.clone();
            let gauge = gauge.clone();
            async move {
                let _running = gauge.enter();
                let (seconds, n): (f64, i64) = ctx.input_as()?;
                let ms = (seconds * SLEEP_MS_PER_SECOND).max(0.0) as u64;
                tokio::time::sleep(Duration::from_millis(ms)).await;
                push(&log, format!("Job: {n}"));
                Ok::<_, JobError>(json!(n))
            }
        }),
    )
    .retry_delay(Duration::from_secs(1))
}
