//! Measurements of remote itself: the real [`Processor`] with a no-op handler.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use remote_core::{
    handler_fn, AttemptEvent, InsertJobs, Job, JobContext, JobError, JobFactory, JobStatus,
    OnConflict, Processor, WorkerConfig,
};
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;

use crate::cpu::{Reading, Usage};
use crate::report::{Sustained, SustainedCpu};
use crate::stats::{rate, Latency};
use crate::target::{Kind, Open, Opened, Space, Target};
use crate::{pool_size, BenchResult, Settings, JOB};

/// Jobs per `add_jobs` call when filling a queue.
pub(crate) const ENQUEUE_BATCH: usize = 1000;

/// A processor over `store` running `worker`, with the no-op job registered.
pub(crate) fn processor(store: &Opened, worker: WorkerConfig) -> BenchResult<Processor> {
    let processor = Processor::builder_with(store.jobs.clone(), store.items.clone())
        .name("bench")
        .worker(worker)
        .build();
    processor.register(JobFactory::new(
        JOB,
        handler_fn(|_ctx: JobContext| async move { Ok::<_, JobError>(Value::Null) }),
    ))?;
    Ok(processor)
}

/// Adds `n` no-op jobs in batches; returns the time taken.
async fn enqueue(processor: &Processor, n: usize, batch: usize) -> BenchResult<Duration> {
    let started = Instant::now();
    let mut left = n;
    while left > 0 {
        let take = left.min(batch);
        processor.add_jobs(JOB, vec![Value::Null; take]).await?;
        left -= take;
    }
    Ok(started.elapsed())
}

/// Waits until `n` attempts finished or the deadline passes. Finished events are counted by a
/// task on the runtime's worker threads (as a metrics subscriber runs), so waking it costs no
/// more than waking any task; when events were missed, the store's count of completed jobs
/// decides from then on.
async fn finished(
    processor: &Processor,
    mut events: tokio::sync::broadcast::Receiver<AttemptEvent>,
    n: usize,
    deadline: Instant,
) -> BenchResult<()> {
    let processor = processor.clone();
    let counting = tokio::spawn(async move {
        let mut done = 0;
        let mut lagged = false;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!("only {done} of {n} jobs finished in time"));
            }
            if lagged {
                let counts = processor.count_jobs().await.map_err(|e| e.to_string())?;
                done = usize::try_from(counts[&JobStatus::Completed]).unwrap_or(usize::MAX);
                if done >= n {
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
                continue;
            }
            match tokio::time::timeout(left, events.recv()).await {
                Err(_) => return Err(format!("only {done} of {n} jobs finished in time")),
                Ok(Ok(AttemptEvent::Finished { .. })) => {
                    done += 1;
                    if done >= n {
                        return Ok(());
                    }
                }
                Ok(Ok(_)) => {}
                Ok(Err(RecvError::Lagged(_))) => lagged = true,
                Ok(Err(RecvError::Closed)) => return Err("the processor's events ended".into()),
            }
        }
    });
    match counting.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(message)) => Err(message.into()),
        Err(e) => Err(format!("the counting task failed: {e}").into()),
    }
}

/// The multi worker of the drains: `concurrency` slots, `prefetch` jobs claimed ahead (the
/// worker's default, its concurrency, when `None`).
fn multi(concurrency: usize, prefetch: Option<usize>) -> WorkerConfig {
    let worker = WorkerConfig::multi(concurrency).wait_time(Duration::from_millis(100));
    match prefetch {
        Some(jobs) => worker.prefetch(jobs),
        None => worker,
    }
}

/// End-to-end drain: `n` jobs enqueued up front, then a multi worker of `concurrency` claiming
/// `prefetch` jobs ahead works them off. Returns (jobs/s of the drain, jobs/s of the batched
/// enqueue).
pub(crate) async fn drain(
    target: &Target,
    settings: &Settings,
    concurrency: usize,
    prefetch: Option<usize>,
) -> BenchResult<(f64, f64)> {
    let space = target.space();
    let store = target
        .open(
            &space,
            Open {
                pool: pool_size(concurrency),
                wakeups: true,
            },
        )
        .await?;
    let processor = processor(&store, multi(concurrency, prefetch))?;
    let n = settings.jobs;
    let enqueue_time = enqueue(&processor, n, ENQUEUE_BATCH).await?;
    settle(target, &space, &store).await?;
    let events = processor.subscribe();
    let started = Instant::now();
    processor.start_processor();
    let result = finished(&processor, events, n, started + settings.timeout).await;
    let elapsed = started.elapsed();
    processor.stop_processor().await;
    result?;
    Ok((rate(n, elapsed), rate(n, enqueue_time)))
}

/// Producers and workers together: `producers` tasks add `n` jobs in batches of `batch` while
/// a multi worker of `concurrency` runs; jobs/s until the last one is done, and the worker's
/// rate while the producers add and after they are done. Then, on a fresh table, the same
/// producers alone and the same worker alone, with the machine's CPU time of each stretch:
/// when the cores are what bounds the run, those show by how much.
pub(crate) async fn sustained(
    target: &Target,
    settings: &Settings,
    concurrency: usize,
    producers: usize,
    batch: usize,
) -> BenchResult<Sustained> {
    let open = Open {
        pool: pool_size(concurrency),
        wakeups: true,
    };
    let store = target.open(&target.space(), open).await?;
    let processor = processor(&store, multi(concurrency, None))?;
    let n = settings.jobs;
    let events = processor.subscribe();
    let meter = Reading::now();
    let started = Instant::now();
    processor.start_processor();
    let tasks = produce(&processor, n, producers, batch);
    let mut adding = {
        let processor = processor.clone();
        tokio::spawn(async move {
            joined(tasks).await?;
            let added = started.elapsed();
            let counts = processor.count_jobs().await.map_err(|e| e.to_string())?;
            let completed = usize::try_from(counts[&JobStatus::Completed]).unwrap_or(usize::MAX);
            Ok::<_, String>((added, completed))
        })
    };
    let mut drained = std::pin::pin!(finished(&processor, events, n, started + settings.timeout));
    // A producer's failure ends the run at once rather than at the drain's deadline.
    let (result, added) = tokio::select! {
        result = &mut drained => (result, adding.await),
        added = &mut adding => match added {
            Ok(Ok(added)) => (drained.await, Ok(Ok(added))),
            failed => (Ok(()), failed),
        },
    };
    let elapsed = started.elapsed();
    let together = meter.as_ref().and_then(Reading::since);
    processor.stop_processor().await;
    let added = added.map_err(|e| e.to_string())?;
    result?;
    let (adding_time, worked_then) = added?;
    let worked_then = worked_then.min(n);
    let after = elapsed.saturating_sub(adding_time);

    let alone = alone(target, settings, open, concurrency, producers, batch).await?;
    Ok(Sustained {
        producers,
        concurrency,
        rate: rate(n, elapsed),
        adding_ms: adding_time.as_secs_f64() * 1e3,
        rate_while_adding: rate(worked_then, adding_time),
        rate_after: (worked_then < n && !after.is_zero()).then(|| rate(n - worked_then, after)),
        adding_alone: alone.adding_rate,
        working_alone: alone.working_rate,
        cpu: match (alone.adding_cpu, alone.working_cpu, together) {
            (Some(adding), Some(working), Some(together)) => Some(SustainedCpu {
                adding,
                working,
                together,
            }),
            _ => None,
        },
    })
}

/// The sustained run's producers and worker, each alone.
struct Alone {
    adding_rate: f64,
    adding_cpu: Option<Usage>,
    working_rate: f64,
    working_cpu: Option<Usage>,
}

/// On a fresh table, the sustained run's producers add its jobs with no worker running, then
/// its worker works them off (after the statistics a drain starts with); rates and CPU time.
async fn alone(
    target: &Target,
    settings: &Settings,
    open: Open,
    concurrency: usize,
    producers: usize,
    batch: usize,
) -> BenchResult<Alone> {
    let n = settings.jobs;
    let space = target.space();
    let store = target.open(&space, open).await?;
    let processor = processor(&store, multi(concurrency, None))?;
    let meter = Reading::now();
    let started = Instant::now();
    joined(produce(&processor, n, producers, batch)).await?;
    let adding_rate = rate(n, started.elapsed());
    let adding_cpu = meter.as_ref().and_then(Reading::since);
    settle(target, &space, &store).await?;
    let events = processor.subscribe();
    let meter = Reading::now();
    let started = Instant::now();
    processor.start_processor();
    let result = finished(&processor, events, n, started + settings.timeout).await;
    let working_rate = rate(n, started.elapsed());
    let working_cpu = meter.as_ref().and_then(Reading::since);
    processor.stop_processor().await;
    result?;
    Ok(Alone {
        adding_rate,
        adding_cpu,
        working_rate,
        working_cpu,
    })
}

/// Spawns `producers` tasks adding `n` jobs between them in batches of `batch`.
fn produce(
    processor: &Processor,
    n: usize,
    producers: usize,
    batch: usize,
) -> tokio::task::JoinSet<Result<(), String>> {
    let mut tasks = tokio::task::JoinSet::new();
    for p in 0..producers {
        let share = n / producers + usize::from(p < n % producers);
        let producer = processor.clone();
        tasks.spawn(async move {
            enqueue(&producer, share, batch)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        });
    }
    tasks
}

/// Waits for every task of `tasks`; the first failure.
async fn joined(mut tasks: tokio::task::JoinSet<Result<(), String>>) -> Result<(), String> {
    while let Some(joined) = tasks.join_next().await {
        joined.map_err(|e| e.to_string())??;
    }
    Ok(())
}

/// Fills a case's jobs table with `n` queued no-op jobs as fast as the backend allows:
/// server-side `generate_series` (PostgreSQL, then `VACUUM (ANALYZE)` so that a queue in steady
/// state is measured, not autovacuum catching up with a million fresh rows), a recursive CTE
/// (SQLite, then `ANALYZE`), `INSERT … SELECT` over a generated range in chunks (MariaDB/MySQL,
/// then `ANALYZE TABLE`), else the store's own batched inserts.
pub(crate) async fn fill(
    target: &Target,
    space: &Space,
    store: &Opened,
    n: usize,
) -> BenchResult<()> {
    let table = target.jobs_table(space);
    let base = Utc::now() - chrono::Duration::days(1);
    let pool = store.sql.as_ref().map(remote_sql::SqlStore::pool);
    match (target.kind, pool) {
        (Kind::Postgres, Some(remote_sql::SqlPool::Postgres(pool))) => {
            sqlx::query(&format!(
                "INSERT INTO {table} (id, job_name, input, status, attempt, max_attempts, \
                   retry_delay_ms, queued_at) \
                 SELECT lpad(to_hex(g), 24, '0'), $1, 'null'::json, 'queued', 0, 3, 10000, \
                   $2 + g * interval '1 millisecond' \
                 FROM generate_series(1, $3::bigint) AS g"
            ))
            .bind(JOB)
            .bind(base)
            .bind(i64::try_from(n)?)
            .execute(&pool)
            .await?;
        }
        (Kind::Sqlite, Some(remote_sql::SqlPool::Sqlite(pool))) => {
            sqlx::query(&format!(
                "WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < $3) \
                 INSERT INTO {table} (id, job_name, input, status, attempt, max_attempts, \
                   retry_delay_ms, queued_at) \
                 SELECT printf('%024x', x), $1, 'null', 'queued', 0, 3, 10000, $2 + x FROM g"
            ))
            .bind(JOB)
            .bind(base.timestamp_millis())
            .bind(i64::try_from(n)?)
            .execute(&pool)
            .await?;
        }
        (Kind::MySql, Some(remote_sql::SqlPool::MySql(pool))) => {
            // Five places of digits: 100,000 rows per statement, numbered from `first`.
            let digits = "(SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 \
                          UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 \
                          UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)";
            let chunk = 100_000;
            let mut first = 1;
            while first <= n {
                let last = (first + chunk - 1).min(n);
                sqlx::query(&format!(
                    "INSERT INTO {table} (id, job_name, input, status, attempt, max_attempts, \
                       retry_delay_ms, queued_at) \
                     SELECT LOWER(LPAD(HEX(x), 24, '0')), ?, 'null', 'queued', 0, 3, 10000, ? + x \
                     FROM (SELECT ? + a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 10000 * f.d AS x \
                           FROM {digits} a, {digits} b, {digits} c, {digits} e, {digits} f) g \
                     WHERE x <= ?"
                ))
                .bind(JOB)
                .bind(base.timestamp_millis())
                .bind(i64::try_from(first)?)
                .bind(i64::try_from(last)?)
                .execute(&pool)
                .await?;
                first = last + 1;
            }
        }
        _ => {
            let chunk = 10_000;
            let mut left = n;
            let mut i = 0_i64;
            while left > 0 {
                let take = left.min(chunk);
                let jobs: Vec<Job> = (0..take)
                    .map(|_| {
                        i += 1;
                        Job::queued(
                            JOB,
                            Value::Null,
                            3,
                            Duration::from_secs(10),
                            base + chrono::Duration::milliseconds(i),
                        )
                    })
                    .collect();
                store
                    .jobs
                    .insert_jobs(&InsertJobs {
                        jobs: &jobs,
                        on_conflict: OnConflict::Refuse,
                    })
                    .await?;
                left -= take;
            }
        }
    }
    settle(target, space, store).await
}

/// Gives the database fresh statistics on a case's jobs table (PostgreSQL `VACUUM (ANALYZE)`,
/// SQLite `ANALYZE`, MariaDB/MySQL `ANALYZE TABLE`), so that a filled queue is measured as a
/// queue in steady state would run, not while the planner still knows nothing of the rows just
/// added.
pub(crate) async fn settle(target: &Target, space: &Space, store: &Opened) -> BenchResult<()> {
    let table = target.jobs_table(space);
    match store.sql.as_ref().map(remote_sql::SqlStore::pool) {
        Some(remote_sql::SqlPool::Postgres(pool)) => {
            sqlx::query(&format!("VACUUM (ANALYZE) {table}"))
                .execute(&pool)
                .await?;
        }
        Some(remote_sql::SqlPool::Sqlite(pool)) => {
            sqlx::query("ANALYZE").execute(&pool).await?;
        }
        Some(remote_sql::SqlPool::MySql(pool)) => {
            sqlx::query(&format!("ANALYZE TABLE {table}"))
                .execute(&pool)
                .await?;
        }
        _ => {}
    }
    Ok(())
}

/// Untimed claims before the timed ones.
const WARM_UP: usize = 50;

/// Claim latency with `queued` jobs waiting: `samples` single-job claims, each timed.
pub(crate) async fn claim_latency(
    target: &Target,
    settings: &Settings,
    queued: usize,
) -> BenchResult<Latency> {
    let space = target.space();
    let store = target
        .open(
            &space,
            Open {
                pool: 2,
                wakeups: false,
            },
        )
        .await?;
    let processor = processor(&store, WorkerConfig::simple())?;
    fill(target, &space, &store, queued + settings.samples + WARM_UP).await?;
    for _ in 0..WARM_UP {
        processor.pull_next_job().await?;
    }
    let mut samples = Vec::with_capacity(settings.samples);
    for _ in 0..settings.samples {
        let started = Instant::now();
        let job = processor.pull_next_job().await?;
        samples.push(started.elapsed());
        if job.is_none() {
            return Err("the queue ran dry while measuring claims".into());
        }
    }
    Latency::of(&samples).ok_or_else(|| "no claim samples".into())
}

/// Enqueue→start latency of an idle worker: a job added through another store instance (as
/// another process would) until its handler starts. With `wakeups` the worker listens and
/// waits up to 30 s; without, it polls every `poll`. A store that cannot see other processes'
/// jobs (SQLite) is measured with the job added in the worker's own process; the flag says so.
pub(crate) async fn start_latency(
    target: &Target,
    settings: &Settings,
    wakeups: bool,
    poll: Duration,
) -> BenchResult<(Latency, bool)> {
    let space = target.space();
    let worker_store = target.open(&space, Open { pool: 2, wakeups }).await?;
    let producer_store = target
        .open(
            &space,
            Open {
                pool: 1,
                wakeups: false,
            },
        )
        .await?;
    let wait = if wakeups {
        Duration::from_secs(30)
    } else {
        poll
    };
    let worker = processor(&worker_store, WorkerConfig::multi(1).wait_time(wait))?;
    let in_process = wakeups && worker_store.jobs.wakeups().is_none();
    let producer = if in_process {
        worker.clone()
    } else {
        processor(&producer_store, WorkerConfig::simple())?
    };
    let mut events = worker.subscribe();
    worker.start_processor();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut samples = Vec::with_capacity(settings.latency_samples);
    let mut result = Ok(());
    for i in 0..settings.latency_samples {
        let pause = if wakeups {
            Duration::from_millis(30)
        } else {
            poll.mul_f64((i as f64 * 0.618_034).fract()) + Duration::from_millis(10)
        };
        tokio::time::sleep(pause).await;
        let started = Instant::now();
        let id = producer.add_job(JOB, Value::Null).await?;
        let deadline = started + Duration::from_secs(35);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, events.recv()).await {
                Ok(Ok(AttemptEvent::Started { job_id, .. })) if job_id == id => {
                    samples.push(started.elapsed());
                    break;
                }
                Ok(Ok(_)) | Ok(Err(RecvError::Lagged(_))) => {}
                Ok(Err(RecvError::Closed)) | Err(_) => {
                    result = Err(format!("job {id} did not start within 35 s"));
                    break;
                }
            }
        }
        if result.is_err() {
            break;
        }
    }
    worker.stop_processor().await;
    result?;
    let latency = Latency::of(&samples).ok_or("no latency samples")?;
    Ok((latency, in_process))
}

/// Heap bytes the memory store holds per queued job, measured with the counting allocator.
pub(crate) async fn bytes_per_job(n: usize) -> BenchResult<f64> {
    let store = Arc::new(remote_memory::MemoryStore::new());
    let now = Utc::now();
    let before = crate::alloc::live_bytes();
    let chunk = 10_000;
    let mut left = n;
    while left > 0 {
        let take = left.min(chunk);
        let jobs: Vec<Job> = (0..take)
            .map(|_| Job::queued(JOB, Value::Null, 3, Duration::from_secs(10), now))
            .collect();
        remote_core::JobStore::insert_jobs(
            store.as_ref(),
            &InsertJobs {
                jobs: &jobs,
                on_conflict: OnConflict::Refuse,
            },
        )
        .await?;
        left -= take;
    }
    let after = crate::alloc::live_bytes();
    let counts = remote_core::JobStore::count_jobs(store.as_ref()).await?;
    if counts.get(&JobStatus::Queued).copied() != Some(u64::try_from(n)?) {
        return Err("the memory store did not keep every job".into());
    }
    drop(store);
    Ok((after - before) as f64 / n as f64)
}
