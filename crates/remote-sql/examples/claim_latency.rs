//! Insert and claim costs of a store at N queued jobs: fills a fresh table with N queued jobs
//! through `insert_jobs` (batches of 10 000, timed), then times single-job inserts and
//! single-job claims (50 untimed, then 200 timed, each) and prints their median and 95th
//! percentile. A measuring tool, not a test:
//!
//! ```sh
//! cargo run --release -p remote-sql --all-features --example claim_latency -- \
//!     postgres://postgres@127.0.0.1:5432/test 1000000 [analyze] [priorities] [keys]
//! ```
//!
//! With `analyze`, the table gets statistics before the timed calls (`ANALYZE`); without, it
//! is measured as it is right after the jobs were added. With `priorities`, jobs get priorities
//! 0 to 4 in turn (R26); with `keys`, each job a unique key of its own, held while queued and
//! running (R27), so every insert checks its key and every claim keeps it held. Its tables
//! (prefix `latency_…_`) are dropped at the end.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use remote_core::{ClaimJobs, InsertJobs, Job, JobStore, LeaseToken, OnConflict};
use remote_sql::{SqlOptions, SqlPool, SqlStore};
use serde_json::Value;

const WARM_UP: usize = 50;
const SAMPLES: usize = 200;
const BATCH: usize = 10_000;

/// What the jobs of a run carry.
#[derive(Clone, Copy)]
struct Shape {
    priorities: bool,
    keys: bool,
}

impl Shape {
    /// Job `n` of the run, queued at `at`.
    fn job(self, n: usize, at: DateTime<Utc>) -> Job {
        let mut job = Job::queued("noop", Value::Null, 3, Duration::from_secs(10), at);
        if self.priorities {
            job.priority = (n % 5) as i16;
        }
        if self.keys {
            job.unique_key = Some(format!("noop:{n}"));
        }
        job
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .ok_or("usage: claim_latency URL JOBS [analyze] [priorities] [keys]")?;
    let jobs: usize = args.next().ok_or("the number of jobs")?.parse()?;
    let flags: Vec<String> = args.collect();
    let analyze = flags.iter().any(|f| f == "analyze");
    let shape = Shape {
        priorities: flags.iter().any(|f| f == "priorities"),
        keys: flags.iter().any(|f| f == "keys"),
    };
    let prefix = format!("latency_{:08x}_", rand::random::<u32>());
    let store = SqlOptions::new()
        .table_prefix(&prefix)
        .listen(false)
        .connect(&url)
        .await?;
    let outcome = measure(&store, &prefix, jobs, analyze, shape).await;
    store.drop_tables().await?;
    outcome
}

async fn measure(
    store: &SqlStore,
    prefix: &str,
    jobs: usize,
    analyze: bool,
    shape: Shape,
) -> Result<(), Box<dyn std::error::Error>> {
    let start = Utc::now() - TimeDelta::days(1);
    let added = Instant::now();
    for first in (0..jobs).step_by(BATCH) {
        let batch: Vec<Job> = (first..jobs.min(first + BATCH))
            .map(|n| shape.job(n, start + TimeDelta::milliseconds(n as i64)))
            .collect();
        insert(store, &batch).await?;
    }
    let took = added.elapsed();
    println!(
        "added {jobs} jobs in {took:?} ({:.0} jobs/s)",
        jobs as f64 / took.as_secs_f64()
    );
    if analyze {
        let pool = store.pool();
        let analyze = match pool {
            SqlPool::MySql(_) => "ANALYZE TABLE",
            _ => "ANALYZE",
        };
        raw(&pool, &format!("{analyze} {prefix}jobs")).await?;
    }

    let mut inserts = Vec::with_capacity(SAMPLES);
    for n in 0..WARM_UP + SAMPLES {
        let job = shape.job(jobs + n, Utc::now());
        let started = Instant::now();
        insert(store, &[job]).await?;
        if n >= WARM_UP {
            inserts.push(started.elapsed());
        }
    }

    let names = vec!["noop".to_owned()];
    let mut claims = Vec::with_capacity(SAMPLES);
    for n in 0..WARM_UP + SAMPLES {
        let now = Utc::now();
        let started = Instant::now();
        let claimed = store
            .claim_jobs(&ClaimJobs {
                names: &names,
                now,
                lease_until: now + TimeDelta::seconds(30),
                token: LeaseToken::random(),
                limit: 1,
            })
            .await?;
        let took = started.elapsed();
        assert_eq!(claimed.len(), 1, "a job is claimed");
        if n >= WARM_UP {
            claims.push(took);
        }
    }
    let (insert_p50, insert_p95) = percentiles(&mut inserts);
    let (claim_p50, claim_p95) = percentiles(&mut claims);
    println!(
        "{jobs} queued{}{}{}: insert p50 {insert_p50:?}, p95 {insert_p95:?}; \
         claim p50 {claim_p50:?}, p95 {claim_p95:?}",
        if analyze { ", analysed" } else { "" },
        if shape.priorities { ", priorities" } else { "" },
        if shape.keys { ", unique keys" } else { "" },
    );
    Ok(())
}

/// Adds `jobs`, refusing stored ids; every one must be stored.
async fn insert(store: &SqlStore, jobs: &[Job]) -> Result<(), Box<dyn std::error::Error>> {
    let answers = store
        .insert_jobs(&InsertJobs {
            jobs,
            on_conflict: OnConflict::Refuse,
        })
        .await?;
    assert!(answers.iter().all(|a| a.is_stored()), "every job is stored");
    Ok(())
}

/// The median and the 95th percentile of `times`.
fn percentiles(times: &mut [Duration]) -> (Duration, Duration) {
    times.sort();
    (times[times.len() / 2], times[times.len() * 95 / 100])
}

/// Runs SQL text without parameters on `pool`.
async fn raw(pool: &SqlPool, sql: &str) -> Result<(), Box<dyn std::error::Error>> {
    let sql = sqlx::raw_sql(sql);
    match pool {
        SqlPool::Postgres(pool) => sql.execute(pool).await.map(|_| ())?,
        SqlPool::Sqlite(pool) => sql.execute(pool).await.map(|_| ())?,
        SqlPool::MySql(pool) => sql.execute(pool).await.map(|_| ())?,
        other => return Err(format!("no such pool: {other:?}").into()),
    }
    Ok(())
}
