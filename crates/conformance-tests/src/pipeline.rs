//! R11, R12, R23, R24: the worker pipeline with prefetch — jobs claimed ahead of free slots
//! keep pull order, are renewed while held, are released on a graceful stop, never run when
//! cancelled while waiting, and come back through lease recovery when their worker is lost.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use remote_core::__private::async_trait;
use remote_core::{
    handler_fn, AcquireLeader, CancelJob, ClaimJobs, Error, ErrorRecord, ExpiredLeases, InsertJobs,
    Inserted, Job, JobContext, JobError, JobFactory, JobId, JobQuery, JobStatus, JobStore, Leader,
    Lease, Outcome, PauseNames, PausedName, Processor, RemoveJobs, RenewLeases, Result, RetryJobs,
    StatusCounts, WorkerConfig,
};
use serde_json::json;
use tokio::sync::Semaphore;

use crate::support::{flaky_job, gauged_sleep, unique_name, Gauge, Harness, TestStore, PATIENCE};

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_pipeline {
    ($make:expr) => {
        $crate::__area!($make; pipeline {
            r11_simple_worker_with_prefetch_runs_jobs_in_pull_order,
            r11_simple_worker_with_prefetch_runs_a_retried_job_before_the_jobs_it_holds,
            r12_multi_worker_with_prefetch_never_runs_more_than_its_concurrency,
            r24_worker_claims_ahead_of_its_free_slots,
            r24_graceful_stop_releases_the_jobs_held_ahead,
            r24_job_cancelled_while_held_ahead_never_runs,
            r24_worker_renews_the_leases_of_the_jobs_it_holds,
            r24_jobs_held_by_a_lost_worker_come_back_through_lease_recovery,
            r24_prefetch_grows_while_short_jobs_wait_for_claims_and_falls_back_once_drained,
            r24_a_fixed_prefetch_never_claims_more_than_its_slots_and_prefetch,
        });
    };
}

/// Handlers that start, then wait until the test lets them return.
#[derive(Clone)]
struct Gate {
    started: Arc<Semaphore>,
    open: Arc<Semaphore>,
    ran: Arc<Mutex<Vec<i64>>>,
}

impl Gate {
    fn new() -> Self {
        Self {
            started: Arc::new(Semaphore::new(0)),
            open: Arc::new(Semaphore::new(0)),
            ran: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// A factory taking `{"n": n}` that logs `n`, then waits for the gate.
    fn factory(&self, name: &str) -> JobFactory {
        let gate = self.clone();
        JobFactory::new(
            name,
            handler_fn(move |ctx: JobContext| {
                let gate = gate.clone();
                async move {
                    let n = ctx.input["n"].as_i64().unwrap_or(-1);
                    gate.ran.lock().unwrap().push(n);
                    gate.started.add_permits(1);
                    gate.open.acquire().await.expect("gate open").forget();
                    Ok::<_, JobError>(json!(n))
                }
            }),
        )
    }

    /// Waits until `n` more handlers started.
    async fn started(&self, n: u32) {
        tokio::time::timeout(PATIENCE, self.started.acquire_many(n))
            .await
            .expect("the handlers started in time")
            .expect("semaphore open")
            .forget();
    }

    /// Lets `n` handlers return.
    fn let_through(&self, n: usize) {
        self.open.add_permits(n);
    }

    fn ran(&self) -> Vec<i64> {
        self.ran.lock().unwrap().clone()
    }
}

/// A processor named after `prefix` on `h`'s store and clock, running `worker`.
fn processor(h: &Harness, prefix: &str, worker: WorkerConfig) -> Processor {
    let p = h.processor(&unique_name(prefix));
    p.set_worker(worker.wait_time(Duration::from_millis(20)));
    p
}

async fn add(p: &Processor, name: &str, n: std::ops::RangeInclusive<i64>) -> Vec<JobId> {
    let mut ids = Vec::new();
    for n in n {
        ids.push(p.add_job(name, json!({ "n": n })).await.unwrap());
    }
    ids
}

async fn count(p: &Processor, status: JobStatus) -> u64 {
    p.count_jobs().await.unwrap()[&status]
}

/// Waits (real time, bounded) until `check` holds.
async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// R11, R24: a simple worker that claims ahead still runs one job at a time, in pull order.
pub async fn r11_simple_worker_with_prefetch_runs_jobs_in_pull_order(store: TestStore) {
    let h = Harness::new(store);
    let p = processor(&h, "simple-prefetch", WorkerConfig::simple().prefetch(3));
    let gauge = Gauge::default();
    p.register(gauged_sleep("sleep", &h.log, &gauge)).unwrap();
    for (n, seconds) in [(1, 0.2), (2, 0.0), (3, 0.1), (4, 0.0), (5, 0.05), (6, 0.0)] {
        p.add_job("sleep", json!([seconds, n])).await.unwrap();
    }
    p.start_processor();
    h.wait_for_log("six jobs", |l| l.len() == 6).await;
    p.stop_processor().await;
    assert_eq!(
        h.log(),
        ["Job: 1", "Job: 2", "Job: 3", "Job: 4", "Job: 5", "Job: 6"]
    );
    assert_eq!(gauge.max(), 1);
    for job in p.list_jobs(&JobQuery::default()).await.unwrap() {
        assert_eq!((job.status, job.attempt), (JobStatus::Completed, 1));
    }
}

/// R11, R23, R24: a job the simple worker retried at once runs again before the jobs it held
/// ahead; those are given back and claimed again, their attempt counts unchanged.
pub async fn r11_simple_worker_with_prefetch_runs_a_retried_job_before_the_jobs_it_holds(
    store: TestStore,
) {
    let h = Harness::new(store);
    let p = processor(
        &h,
        "simple-retry-prefetch",
        WorkerConfig::simple().prefetch(3),
    );
    p.register(flaky_job(&h.log)).unwrap();
    let ids = add(&p, "flaky", 1..=4).await;
    p.start_processor();
    h.wait_for_log("five attempts", |l| l.len() == 5).await;
    p.stop_processor().await;
    assert_eq!(h.log(), ["1.1", "1.2", "2.1", "3.1", "4.1"]);
    for (i, id) in ids.iter().enumerate() {
        let job = p.get_job(id).await.unwrap();
        assert_eq!(job.status, JobStatus::Completed);
        assert_eq!(job.attempt, if i == 0 { 2 } else { 1 }, "job {}", i + 1);
        let errors = p.job_errors(id).await.unwrap();
        assert_eq!(errors.len(), usize::from(i == 0), "job {}", i + 1);
    }
}

/// R12, R24: a multi worker that claims ahead runs at most its concurrency at once.
pub async fn r12_multi_worker_with_prefetch_never_runs_more_than_its_concurrency(store: TestStore) {
    let h = Harness::new(store);
    let p = processor(&h, "multi-prefetch", WorkerConfig::multi(2).prefetch(6));
    let gauge = Gauge::default();
    p.register(gauged_sleep("sleep", &h.log, &gauge)).unwrap();
    for n in 1..=10 {
        p.add_job("sleep", json!([0.05, n])).await.unwrap();
    }
    p.start_processor();
    h.wait_for_log("ten jobs", |l| l.len() == 10).await;
    p.stop_processor().await;
    assert_eq!(gauge.max(), 2);
    assert_eq!(count(&p, JobStatus::Completed).await, 10);
    for job in p.list_jobs(&JobQuery::default()).await.unwrap() {
        assert_eq!(job.attempt, 1, "each job ran once");
    }
}

/// R24: while its one slot is busy, a worker holds up to its prefetch of further jobs as
/// claimed (`processing`), and no more.
pub async fn r24_worker_claims_ahead_of_its_free_slots(store: TestStore) {
    let h = Harness::new(store);
    let gate = Gate::new();
    let p = processor(&h, "claims-ahead", WorkerConfig::multi(1).prefetch(3));
    p.register(gate.factory("gated")).unwrap();
    add(&p, "gated", 1..=8).await;
    p.start_processor();
    gate.started(1).await;
    until("the worker holds 1 running and 3 ahead", || async {
        count(&p, JobStatus::Processing).await == 4
    })
    .await;
    assert_eq!(count(&p, JobStatus::Queued).await, 4);
    assert_eq!(gate.ran(), [1]);
    gate.let_through(8);
    until("every job", || async {
        count(&p, JobStatus::Completed).await == 8
    })
    .await;
    p.stop_processor().await;
    assert_eq!(gate.ran(), [1, 2, 3, 4, 5, 6, 7, 8]);
}

/// R10, R23, R24: a graceful stop hands the jobs held ahead back to the queue as if never
/// claimed — queued, attempt 0, no lease, no error record — and lets the running one finish.
pub async fn r24_graceful_stop_releases_the_jobs_held_ahead(store: TestStore) {
    let h = Harness::new(store);
    let gate = Gate::new();
    let p = processor(&h, "release-on-stop", WorkerConfig::multi(1).prefetch(4));
    p.register(gate.factory("gated")).unwrap();
    let ids = add(&p, "gated", 1..=6).await;
    p.start_processor();
    gate.started(1).await;
    until("the worker holds 4 ahead", || async {
        count(&p, JobStatus::Processing).await == 5
    })
    .await;
    let stopping = {
        let p = p.clone();
        tokio::spawn(async move { p.stop_processor().await })
    };
    until("the held jobs are back in the queue", || async {
        count(&p, JobStatus::Queued).await == 5
    })
    .await;
    gate.let_through(1);
    stopping.await.unwrap();
    assert_eq!(gate.ran(), [1]);
    assert_eq!(p.job_status(&ids[0]).await.unwrap(), JobStatus::Completed);
    for id in &ids[1..] {
        let job = p.get_job(id).await.unwrap();
        assert_eq!(job.status, JobStatus::Queued);
        assert_eq!(job.attempt, 0);
        assert_eq!(job.picked_at, None);
        assert_eq!((job.lease_until, job.lease_token), (None, None));
        assert!(p.job_errors(id).await.unwrap().is_empty());
    }
    let next = p.pull_next_job().await.unwrap().expect("a released job");
    assert_eq!(next.id, ids[1], "released jobs keep their place in line");
    assert_eq!(next.attempt, 1);
}

/// R4, R24: a job cancelled while it waits in a worker's buffer never runs; the others do.
pub async fn r24_job_cancelled_while_held_ahead_never_runs(store: TestStore) {
    let h = Harness::new(store);
    let gate = Gate::new();
    let p = processor(&h, "cancel-held", WorkerConfig::multi(1).prefetch(3));
    p.register(gate.factory("gated")).unwrap();
    let ids = add(&p, "gated", 1..=4).await;
    p.start_processor();
    gate.started(1).await;
    until("the worker holds 3 ahead", || async {
        count(&p, JobStatus::Processing).await == 4
    })
    .await;
    p.cancel_job(&ids[2]).await.unwrap();
    gate.let_through(4);
    until("the others complete", || async {
        count(&p, JobStatus::Completed).await == 3
    })
    .await;
    p.stop_processor().await;
    assert_eq!(gate.ran(), [1, 2, 4]);
    assert_eq!(p.job_status(&ids[2]).await.unwrap(), JobStatus::Cancelled);
}

/// R8, R24: the leases of the running job and of those held ahead are renewed while held, so
/// another processor finds none of them expired after the lease has passed.
pub async fn r24_worker_renews_the_leases_of_the_jobs_it_holds(store: TestStore) {
    let h = Harness::new(store);
    let gate = Gate::new();
    let p = Processor::builder_with(h.jobs.clone(), h.items.clone())
        .name(unique_name("renews"))
        .clock(h.clock.clone())
        .lease(Duration::from_millis(300))
        .worker(
            WorkerConfig::multi(1)
                .prefetch(2)
                .wait_time(Duration::from_millis(20)),
        )
        .build();
    p.register(gate.factory("gated")).unwrap();
    add(&p, "gated", 1..=3).await;
    p.start_processor();
    gate.started(1).await;
    until("the worker holds 2 ahead", || async {
        count(&p, JobStatus::Processing).await == 3
    })
    .await;
    h.advance(Duration::from_secs(60));
    let renewed_after = h.p.now();
    until("every held lease renewed past the clock", || async {
        p.list_jobs(&JobQuery::default())
            .await
            .unwrap()
            .iter()
            .all(|j| j.lease_until.is_some_and(|t| t > renewed_after))
    })
    .await;
    assert_eq!(
        h.processor("rescuer").recover_expired_jobs().await.unwrap(),
        0
    );
    gate.let_through(3);
    until("every job", || async {
        count(&p, JobStatus::Completed).await == 3
    })
    .await;
    p.stop_processor().await;
    for job in p.list_jobs(&JobQuery::default()).await.unwrap() {
        assert_eq!(job.attempt, 1);
        assert!(p.job_errors(&job.id).await.unwrap().is_empty());
    }
}

/// R8, R24: when a worker is cut off from the store (as if it crashed) while it holds jobs
/// ahead, those jobs come back through lease recovery — each with one error record saying the
/// worker was lost — and then run once more.
pub async fn r24_jobs_held_by_a_lost_worker_come_back_through_lease_recovery(store: TestStore) {
    let h = Harness::new(store);
    let gate = Gate::new();
    let tapped = Arc::new(Tapped::new(h.jobs.clone(), Duration::ZERO));
    let lost = Processor::builder_with(tapped.clone(), h.items.clone())
        .name(unique_name("lost"))
        .clock(h.clock.clone())
        .grace(Duration::from_millis(50))
        .worker(
            WorkerConfig::multi(1)
                .prefetch(3)
                .wait_time(Duration::from_millis(20)),
        )
        .build();
    lost.register(gate.factory("gated")).unwrap();
    let ids = add(&lost, "gated", 1..=4).await;
    lost.start_processor();
    gate.started(1).await;
    until("the worker holds 3 ahead", || async {
        count(&h.p, JobStatus::Processing).await == 4
    })
    .await;
    tapped.cut.store(true, Ordering::SeqCst);
    lost.stop_processor().await;
    gate.let_through(1);
    assert_eq!(
        count(&h.p, JobStatus::Processing).await,
        4,
        "nothing released"
    );

    let rescuer = h.processor(&unique_name("rescuer"));
    h.advance(Duration::from_secs(31));
    assert_eq!(rescuer.recover_expired_jobs().await.unwrap(), 4);
    for id in &ids {
        let job = h.p.get_job(id).await.unwrap();
        assert_eq!((job.status, job.attempt), (JobStatus::Queued, 1));
        let errors = h.p.job_errors(id).await.unwrap();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].message.contains("lost"), "{:?}", errors[0]);
    }
    let again = Gate::new();
    rescuer.register(again.factory("gated")).unwrap();
    h.advance(Duration::from_secs(10));
    again.let_through(4);
    while rescuer.process_next_job().await.unwrap() {}
    assert_eq!(again.ran(), [1, 2, 3, 4]);
    for id in &ids {
        let job = h.p.get_job(id).await.unwrap();
        assert_eq!((job.status, job.attempt), (JobStatus::Completed, 2));
    }
}

/// When each claim came and its limit, while a worker on `h`'s store idling `IDLE` between
/// looks ran 300 jobs that return at once, on a store whose claims take 5 ms, and for two
/// claims more after the queue drained.
async fn claims_of(h: &Harness, worker: WorkerConfig) -> Vec<(Instant, usize)> {
    let tapped = Arc::new(Tapped::new(h.jobs.clone(), Duration::from_millis(5)));
    let p = Processor::builder_with(tapped.clone(), h.items.clone())
        .name(unique_name("claim-limits"))
        .clock(h.clock.clone())
        .worker(worker.wait_time(IDLE))
        .build();
    p.register(JobFactory::new(
        "quick",
        handler_fn(|_ctx: JobContext| async { Ok::<_, JobError>(json!(null)) }),
    ))
    .unwrap();
    p.add_jobs("quick", (0..300).map(|n| json!({ "n": n })).collect())
        .await
        .unwrap();
    p.start_processor();
    until("every job", || async {
        count(&p, JobStatus::Queued).await + count(&p, JobStatus::Processing).await == 0
    })
    .await;
    let claims = tapped.claims().len();
    until("two claims after the queue drained", || async {
        tapped.claims().len() > claims + 1
    })
    .await;
    p.stop_processor().await;
    tapped.claims()
}

/// The idle pause of the workers of `claims_of`.
const IDLE: Duration = Duration::from_millis(20);

/// R24: while jobs return faster than a claim comes back, a worker's slots wait for claims,
/// so it claims further ahead, up to its `max_prefetch` and no further; once the queue is
/// drained it is back to its `prefetch`, and looks again after its idle pause, not at once.
pub async fn r24_prefetch_grows_while_short_jobs_wait_for_claims_and_falls_back_once_drained(
    store: TestStore,
) {
    let h = Harness::new(store);
    for (slots, floor, ceiling) in [(2, 2, 30), (1, 1, 15)] {
        let worker = WorkerConfig::multi(slots)
            .prefetch(floor)
            .max_prefetch(ceiling);
        let claims = claims_of(&h, worker).await;
        let limits: Vec<usize> = claims.iter().map(|c| c.1).collect();
        let (least, most) = (slots + floor, slots + ceiling);
        assert!(limits.iter().any(|&l| l > least), "never grew: {limits:?}");
        assert!(
            limits.iter().all(|&l| l <= most),
            "grew too far: {limits:?}"
        );
        assert_eq!(
            limits.last(),
            Some(&least),
            "not back to its floor: {limits:?}"
        );
        let [.., (before, _), (last, _)] = claims[..] else {
            panic!("fewer than two claims: {limits:?}")
        };
        assert!(
            last - before >= IDLE,
            "an idle worker claimed again after {:?}",
            last - before
        );
    }
}

/// R24: a worker whose prefetch is fixed claims at most its slots plus its prefetch however
/// short its jobs.
pub async fn r24_a_fixed_prefetch_never_claims_more_than_its_slots_and_prefetch(store: TestStore) {
    let claims = claims_of(&Harness::new(store), WorkerConfig::multi(2).prefetch(2)).await;
    assert!(claims.iter().all(|c| c.1 <= 4), "{claims:?}");
}

/// A job store that logs when each claim came and its limit, makes each claim take `claim_time` like a
/// round trip to a distant server, and fails every call once `cut` is set, like a worker whose
/// process died.
struct Tapped {
    inner: Arc<dyn JobStore>,
    claim_time: Duration,
    claims: Mutex<Vec<(Instant, usize)>>,
    cut: AtomicBool,
}

impl Tapped {
    fn new(inner: Arc<dyn JobStore>, claim_time: Duration) -> Self {
        Self {
            inner,
            claim_time,
            claims: Mutex::new(Vec::new()),
            cut: AtomicBool::new(false),
        }
    }

    /// When each claim came, and its limit.
    fn claims(&self) -> Vec<(Instant, usize)> {
        self.claims.lock().unwrap().clone()
    }

    fn check(&self) -> Result<()> {
        if self.cut.load(Ordering::SeqCst) {
            Err(Error::store_msg("cut off from the store"))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl JobStore for Tapped {
    async fn insert_jobs(&self, insert: &InsertJobs<'_>) -> Result<Vec<Inserted>> {
        self.check()?;
        self.inner.insert_jobs(insert).await
    }
    async fn claim_jobs(&self, claim: &ClaimJobs<'_>) -> Result<Vec<Job>> {
        self.check()?;
        self.claims
            .lock()
            .unwrap()
            .push((Instant::now(), claim.limit));
        tokio::time::sleep(self.claim_time).await;
        self.inner.claim_jobs(claim).await
    }
    async fn record_outcomes(&self, outcomes: &[Outcome]) -> Result<Vec<bool>> {
        self.check()?;
        self.inner.record_outcomes(outcomes).await
    }
    async fn rescue_jobs(&self, outcomes: &[Outcome]) -> Result<Vec<bool>> {
        self.check()?;
        self.inner.rescue_jobs(outcomes).await
    }
    async fn release_jobs(&self, leases: &[Lease]) -> Result<Vec<bool>> {
        self.check()?;
        self.inner.release_jobs(leases).await
    }
    async fn renew_leases(&self, renew: &RenewLeases<'_>) -> Result<Vec<bool>> {
        self.check()?;
        self.inner.renew_leases(renew).await
    }
    async fn expired_leases(&self, query: &ExpiredLeases) -> Result<Vec<Job>> {
        self.check()?;
        self.inner.expired_leases(query).await
    }
    async fn cancel_job(&self, cancel: &CancelJob<'_>) -> Result<Option<JobStatus>> {
        self.check()?;
        self.inner.cancel_job(cancel).await
    }
    async fn get_job(&self, id: &JobId) -> Result<Option<Job>> {
        self.check()?;
        self.inner.get_job(id).await
    }
    async fn job_errors(&self, id: &JobId) -> Result<Option<Vec<ErrorRecord>>> {
        self.check()?;
        self.inner.job_errors(id).await
    }
    async fn list_jobs(&self, query: &JobQuery) -> Result<Vec<Job>> {
        self.check()?;
        self.inner.list_jobs(query).await
    }
    async fn count_jobs(&self) -> Result<StatusCounts> {
        self.check()?;
        self.inner.count_jobs().await
    }
    async fn remove_jobs(&self, remove: &RemoveJobs<'_>) -> Result<StatusCounts> {
        self.check()?;
        self.inner.remove_jobs(remove).await
    }
    async fn reclaim_space(&self) -> Result<()> {
        self.check()?;
        self.inner.reclaim_space().await
    }
    async fn retry_jobs(&self, retry: &RetryJobs<'_>) -> Result<StatusCounts> {
        self.check()?;
        self.inner.retry_jobs(retry).await
    }
    async fn pause_names(&self, pause: &PauseNames<'_>) -> Result<()> {
        self.check()?;
        self.inner.pause_names(pause).await
    }
    async fn paused_names(&self) -> Result<Vec<PausedName>> {
        self.check()?;
        self.inner.paused_names().await
    }
    async fn acquire_leader(&self, acquire: &AcquireLeader<'_>) -> Result<bool> {
        self.check()?;
        self.inner.acquire_leader(acquire).await
    }
    async fn leaders(&self) -> Result<Vec<Leader>> {
        self.check()?;
        self.inner.leaders().await
    }
}
