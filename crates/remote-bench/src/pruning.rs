//! Claim latency while pruning (R33): does removing N finished jobs slow down a worker that
//! keeps claiming? The requirement measured: pruning 1 000 000 finished jobs on PostgreSQL while
//! a worker keeps claiming, claim latency p99 during pruning stays within 2× of without.
//!
//! `remote-bench --store URL --prune N` runs it, instead of the other measurements, on each SQL
//! store given:
//!
//! ```sh
//! remote-bench --store postgres://postgres@127.0.0.1:5432/test --prune 1000000
//! ```
//!
//! It fills a fresh table with N completed jobs that finished two days ago (past the default
//! 24 h retention of completed jobs), inserted as finished jobs directly through `insert_jobs`
//! in batches of 10 000 (the store contract stores jobs exactly as given, so no claim and
//! completion per job is needed), and 20 000 queued jobs, then runs `VACUUM ANALYZE` (`ANALYZE`
//! on the other databases) so autovacuum's pass after the bulk insert does not land in the
//! middle of a phase. A claimer then claims one job at a time (`claim_jobs` with limit 1),
//! timing each claim, and completes it through `record_outcomes` (untimed) as a worker would;
//! it adds 10 000 more queued jobs (untimed) whenever fewer than 5 000 are left, so the queue
//! never runs dry. Phase A: 50 untimed claims, then 10 s of timed ones. Phase B: the
//! production pruning, `Processor::prune_finished_jobs` on a processor over the same store with
//! the default retention — the code job workers run every `prune_interval` (batches of
//! `PRUNE_BATCH`, each followed by `prune_pause`: at least 50 ms and nine times the batch's
//! time; the store's `reclaim_space` every `PRUNE_RECLAIM_EVERY` jobs) — in a task of its
//! own, while the claimer runs until it ends.
//! Phase C, the control: the claimer alone for as long as phase B took. Phases B and C each
//! start from a vacuumed table, so both leave as many dead rows of claimed jobs behind, and C
//! is the fair "without".
//!
//! It prints how long filling and pruning took, what pruning removed (checked: exactly the N old
//! completed jobs, none of the queued jobs nor the jobs the claimer completed), the claims'
//! p50, p95, p99 and max for the three phases, and the ratios of the p99 during pruning to
//! those of C and A against the 2× bound. Its tables (prefix `prune_…_`) are dropped at the
//! end, also when a step failed.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use remote_core::{
    ClaimJobs, InsertJobs, Job, JobStatus, JobStore, Lease, LeaseToken, OnConflict, Outcome,
    OutcomeKind, Processor, Retention, StatusCounts,
};
use remote_sql::{SqlOptions, SqlPool, SqlStore};
use serde_json::Value;

type Error = Box<dyn std::error::Error + Send + Sync>;

const BATCH: usize = 10_000;
/// Queued jobs at the start, and the refill's size.
const QUEUED: usize = 20_000;
/// The claimer adds `BATCH` queued jobs when fewer than this are left.
const REFILL_AT: usize = 5_000;
const WARM_UP: usize = 50;
const BASELINE: Duration = Duration::from_secs(10);
const NAME: &str = "noop";

/// Measures claim latency while pruning `jobs` finished jobs on the SQL store at `url`, as the
/// module says, and prints the figures; its tables are dropped at the end.
pub(crate) async fn run(url: &str, jobs: usize) -> Result<(), Error> {
    let prefix = format!("prune_{}_", remote_core::JobId::new().as_str());
    let store = SqlOptions::new()
        .table_prefix(&prefix)
        .listen(false)
        .connect(url)
        .await?;
    let outcome = measure(&store, &prefix, jobs).await;
    let dropped = store.drop_tables().await;
    outcome?;
    Ok(dropped?)
}

async fn measure(store: &SqlStore, prefix: &str, jobs: usize) -> Result<(), Error> {
    let now = Utc::now();
    let finished = now - TimeDelta::days(2);
    let added = Instant::now();
    for first in (0..jobs).step_by(BATCH) {
        let batch: Vec<Job> = (first..jobs.min(first + BATCH))
            .map(|n| finished_job(finished + TimeDelta::milliseconds(n as i64)))
            .collect();
        insert(store, &batch).await?;
    }
    let took = added.elapsed();
    let mut claimer = Claimer::new(store.clone());
    claimer.refill(QUEUED).await?;
    println!(
        "added {jobs} completed jobs in {took:?} ({:.0} jobs/s), {QUEUED} queued",
        jobs as f64 / took.as_secs_f64()
    );
    let pool = store.pool();
    let vacuum = format!("{} {prefix}jobs", analyze(&pool));
    raw(&pool, &vacuum).await?;

    // Phase A: claims without pruning.
    for _ in 0..WARM_UP {
        claimer.claim().await?;
    }
    let (mut baseline, baseline_took) = claimer.claims_for(BASELINE).await?;
    let before = store.count_jobs().await?;
    let claimed_before = claimer.claimed;

    // Phase B: the same claims while the production pruning runs, from a vacuumed table.
    raw(&pool, &vacuum).await?;
    let processor = Processor::builder(store.clone())
        .retention(Retention::default())
        .build();
    let pruner = tokio::spawn(async move {
        let started = Instant::now();
        let removed = processor.prune_finished_jobs().await;
        (removed, started.elapsed())
    });
    let started = Instant::now();
    let mut during = Vec::new();
    while !pruner.is_finished() {
        match claimer.claim().await {
            Ok(took) => during.push(took),
            Err(e) => {
                pruner.abort();
                return Err(e);
            }
        }
    }
    let during_took = started.elapsed();
    let (removed, prune_took) = pruner.await?;
    let removed = removed?;

    // Phase C: the same claims without pruning for as long as phase B, from a vacuumed table,
    // so both phases leave behind as many dead rows of claimed jobs.
    raw(&pool, &vacuum).await?;
    let (mut control, control_took) = claimer.claims_for(during_took).await?;
    let after = store.count_jobs().await?;

    let total: u64 = removed.values().sum();
    println!(
        "pruned {total} jobs ({}) in {prune_took:?} ({:.0} jobs/s)",
        counts(&removed),
        total as f64 / prune_took.as_secs_f64()
    );
    let a = Stats::of(&mut baseline);
    let b = Stats::of(&mut during);
    let c = Stats::of(&mut control);
    println!(
        "A, first {:.0?} without pruning: {} claims: {a}",
        baseline_took,
        baseline.len()
    );
    println!(
        "B, during pruning:              {} claims in {during_took:.1?}: {b}",
        during.len()
    );
    println!(
        "C, as long without pruning:     {} claims in {control_took:.1?}: {c}",
        control.len()
    );
    for (what, without) in [("C", &c), ("A", &a)] {
        let ratio = b.p99.as_secs_f64() / without.p99.as_secs_f64();
        println!(
            "claim p99 during pruning / without ({what}): {ratio:.2}× ({} the 2× bound)",
            if ratio <= 2.0 { "within" } else { "beyond" }
        );
    }
    let completed_before = before.get(&JobStatus::Completed).copied().unwrap_or(0);
    if completed_before != jobs as u64 + claimed_before {
        return Err(format!(
            "before pruning the table holds {} instead of {} completed",
            counts(&before),
            jobs as u64 + claimed_before
        )
        .into());
    }
    check(jobs, &removed, &after, &claimer)
}

/// Checks that pruning removed exactly the `jobs` old completed jobs and nothing else: what is
/// left is what the claimer added and completed.
fn check(
    jobs: usize,
    removed: &StatusCounts,
    after: &StatusCounts,
    claimer: &Claimer,
) -> Result<(), Error> {
    let get = |c: &StatusCounts, s| c.get(&s).copied().unwrap_or(0);
    let completed = get(removed, JobStatus::Completed);
    let others: u64 = removed.values().sum::<u64>() - completed;
    if completed != jobs as u64 || others != 0 {
        return Err(format!(
            "pruning removed {} instead of {jobs} completed",
            counts(removed)
        )
        .into());
    }
    let expected_queued = claimer.added - claimer.claimed;
    let expected_completed = claimer.claimed;
    if get(after, JobStatus::Queued) != expected_queued
        || get(after, JobStatus::Completed) != expected_completed
        || after.values().sum::<u64>() != expected_queued + expected_completed
    {
        return Err(format!(
            "after pruning the table holds {} instead of {expected_queued} queued and \
             {expected_completed} completed",
            counts(after)
        )
        .into());
    }
    println!(
        "checked: the {jobs} old completed jobs went; {expected_queued} queued and the \
         {expected_completed} the claimer completed stayed"
    );
    Ok(())
}

/// A worker claiming one job at a time and completing it, keeping the queue supplied.
struct Claimer {
    store: SqlStore,
    names: Vec<String>,
    /// Queued jobs added so far.
    added: u64,
    /// Jobs claimed (and completed) so far.
    claimed: u64,
}

impl Claimer {
    fn new(store: SqlStore) -> Self {
        Self {
            store,
            names: vec![NAME.to_owned()],
            added: 0,
            claimed: 0,
        }
    }

    /// Adds `n` due queued jobs.
    async fn refill(&mut self, n: usize) -> Result<(), Error> {
        let at = Utc::now() - TimeDelta::hours(1);
        for first in (0..n).step_by(BATCH) {
            let batch: Vec<Job> = (first..n.min(first + BATCH))
                .map(|i| {
                    let queued_at = at + TimeDelta::milliseconds((self.added + i as u64) as i64);
                    Job::queued(NAME, Value::Null, 3, Duration::from_secs(10), queued_at)
                })
                .collect();
            insert(&self.store, &batch).await?;
        }
        self.added += n as u64;
        Ok(())
    }

    /// Claims for `how_long`; each claim's time, and how long they took in all.
    async fn claims_for(&mut self, how_long: Duration) -> Result<(Vec<Duration>, Duration), Error> {
        let started = Instant::now();
        let mut times = Vec::new();
        while started.elapsed() < how_long {
            times.push(self.claim().await?);
        }
        Ok((times, started.elapsed()))
    }

    /// Claims one job, timed, then completes it and refills the queue when it runs low, both
    /// untimed; answers the claim's time.
    async fn claim(&mut self) -> Result<Duration, Error> {
        let now = Utc::now();
        let started = Instant::now();
        let claimed = self
            .store
            .claim_jobs(&ClaimJobs {
                names: &self.names,
                now,
                lease_until: now + TimeDelta::seconds(30),
                token: LeaseToken::random(),
                limit: 1,
            })
            .await?;
        let took = started.elapsed();
        let [job] = claimed.as_slice() else {
            return Err(format!("claimed {} jobs instead of 1", claimed.len()).into());
        };
        let token = job.lease_token.ok_or("a claimed job has a lease token")?;
        let done = self
            .store
            .record_outcomes(&[Outcome {
                lease: Lease {
                    id: job.id.clone(),
                    token,
                },
                now: Utc::now(),
                kind: OutcomeKind::Completed {
                    output: Value::Null,
                },
            }])
            .await?;
        if done != [true] {
            return Err("the claimed job was not completed".into());
        }
        self.claimed += 1;
        if self.added - self.claimed < REFILL_AT as u64 {
            self.refill(BATCH).await?;
        }
        Ok(took)
    }
}

/// A completed job that finished at `at`, as a worker leaves it.
fn finished_job(at: DateTime<Utc>) -> Job {
    let mut job = Job::queued(
        NAME,
        Value::Null,
        3,
        Duration::from_secs(10),
        at - TimeDelta::seconds(2),
    );
    job.status = JobStatus::Completed;
    job.output = Some(Value::Null);
    job.attempt = 1;
    job.picked_at = Some(at - TimeDelta::seconds(1));
    job.completed_at = Some(at);
    job
}

/// Adds `jobs`, refusing stored ids; every one must be stored.
async fn insert(store: &SqlStore, jobs: &[Job]) -> Result<(), Error> {
    let answers = store
        .insert_jobs(&InsertJobs {
            jobs,
            on_conflict: OnConflict::Refuse,
        })
        .await?;
    if !answers.iter().all(|a| a.is_stored()) {
        return Err("a job was not stored".into());
    }
    Ok(())
}

/// Counts per status as text: `completed 1000, queued 20`.
fn counts(counts: &StatusCounts) -> String {
    let parts: Vec<String> = counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(s, n)| format!("{} {n}", s.as_str()))
        .collect();
    if parts.is_empty() {
        "none".to_owned()
    } else {
        parts.join(", ")
    }
}

/// Percentiles of claim times.
struct Stats {
    p50: Duration,
    p95: Duration,
    p99: Duration,
    max: Duration,
}

impl Stats {
    fn of(times: &mut [Duration]) -> Self {
        times.sort();
        let at = |q: usize| {
            times
                .get(times.len() * q / 100)
                .copied()
                .unwrap_or_default()
        };
        Self {
            p50: at(50),
            p95: at(95),
            p99: at(99),
            max: times.last().copied().unwrap_or_default(),
        }
    }
}

impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {:.2?}, p95 {:.2?}, p99 {:.2?}, max {:.2?}",
            self.p50, self.p95, self.p99, self.max
        )
    }
}

/// The statement that gives a table fresh statistics (and, on PostgreSQL, vacuums it).
fn analyze(pool: &SqlPool) -> &'static str {
    match pool {
        SqlPool::Postgres(_) => "VACUUM ANALYZE",
        SqlPool::MySql(_) => "ANALYZE TABLE",
        _ => "ANALYZE",
    }
}

/// Runs SQL text without parameters on `pool`.
async fn raw(pool: &SqlPool, sql: &str) -> Result<(), Error> {
    match pool {
        SqlPool::Postgres(pool) => Ok(sqlx::raw_sql(sql).execute(pool).await.map(drop)?),
        SqlPool::Sqlite(pool) => Ok(sqlx::raw_sql(sql).execute(pool).await.map(drop)?),
        SqlPool::MySql(pool) => Ok(sqlx::raw_sql(sql).execute(pool).await.map(drop)?),
        other => Err(format!("cannot run `{sql}`: no such pool: {other:?}").into()),
    }
}
