//! `remote-torture`: crash tests of the remote job queue on a real store.
//!
//! `remote-torture jobs --store URL` enqueues jobs, runs worker processes (multi workers that
//! claim jobs ahead of their free slots), SIGKILLs a random one every few seconds and starts a
//! replacement, optionally restarts the database once, and checks at the end that no job was
//! lost or left unfinished and that every attempt had one outcome and one execution.
//! `remote-torture scheduler --store URL` races scheduler processes over Delay and Cron items,
//! optionally killing them, and checks one job per occurrence. See RELIABILITY.md.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use chrono::{TimeDelta, Utc};
use clap::{Args, Parser, Subcommand};
use futures::StreamExt;
use rand::Rng;
use remote_cli::store::{open_within, redact, Stores};
use remote_core::{
    handler_fn, CronLists, JobContext, JobError, JobFactory, JobQuery, JobStatus, Processor,
    Schedule, SchedulerItem, WorkerConfig,
};
use remote_torture::checks::{check_jobs, check_scheduler, Ended, Outage, PlannedItem};
use remote_torture::exec_log::{ExecLog, Record};
use remote_torture::fleet::{restart_database, Fleet};
use remote_torture::prepare::wipe;
use serde_json::json;
use tokio::io::AsyncReadExt;
use tracing::warn;

/// Name of the jobs the jobs run enqueues.
const TORTURE_JOB: &str = "torture";
/// Name of the jobs the scheduler items add.
const TICK_JOB: &str = "tick";
/// Attempts a torture job may take: recoveries must never exhaust them.
const MAX_ATTEMPTS: u32 = 1000;

#[derive(Parser)]
#[command(
    name = "remote-torture",
    about = "Crash tests of the remote job queue on a real store"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Jobs run: worker processes killed and replaced, the database restarted, final checks.
    Jobs(JobsArgs),
    /// Scheduler run: scheduler processes racing over Delay and Cron items.
    Scheduler(SchedulerArgs),
    /// A worker process (started by `jobs`).
    #[command(hide = true)]
    Worker(WorkerArgs),
    /// A scheduler process (started by `scheduler`).
    #[command(hide = true)]
    ScheduleWorker(ScheduleWorkerArgs),
}

#[derive(Args, Clone)]
struct Common {
    /// Store URL (postgres://, sqlite://FILE, mysql://, mongodb://, redis://); the run wipes
    /// the store's tables, collections or keys there.
    #[arg(long)]
    store: String,
    /// Shell command that stops the database and starts it again, run once mid-run.
    #[arg(long)]
    restart_db: Option<String>,
    /// Directory for the child processes' logs (default: a new one under the temp directory).
    #[arg(long)]
    log_dir: Option<PathBuf>,
}

#[derive(Args)]
struct JobsArgs {
    #[command(flatten)]
    common: Common,
    /// Jobs to enqueue.
    #[arg(long, default_value_t = 10_000)]
    jobs: usize,
    /// Worker processes running at once.
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// Jobs each worker runs at once.
    #[arg(long, default_value_t = 8)]
    slots: usize,
    /// Jobs each worker claims beyond its free slots and holds, fixed (default: a multi
    /// worker's own, as many as its slots and growing while they wait for claims).
    #[arg(long)]
    prefetch: Option<usize>,
    /// Mean pause between two kills (each between half and one and a half of it); 0 never kills.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    kill_every: Duration,
    /// Lease of each attempt (short, so that recovery is exercised).
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    lease: Duration,
    /// Share of jobs completed when the database is restarted.
    #[arg(long, default_value_t = 0.4)]
    restart_at: f64,
    /// Give up (and fail) after this long.
    #[arg(long, default_value = "20m", value_parser = humantime::parse_duration)]
    timeout: Duration,
}

#[derive(Args)]
struct SchedulerArgs {
    #[command(flatten)]
    common: Common,
    /// Scheduler processes racing.
    #[arg(long, default_value_t = 3)]
    schedulers: usize,
    /// How long the schedulers race.
    #[arg(long, default_value = "150s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Mean pause between two kills of a scheduler process; 0 (the default) never kills.
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    kill_every: Duration,
    /// How late after its occurrence a job may be added (plus any outage in between).
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    slack: Duration,
}

#[derive(Args)]
struct WorkerArgs {
    #[arg(long)]
    store: String,
    #[arg(long)]
    slots: usize,
    #[arg(long)]
    prefetch: usize,
    #[arg(long)]
    max_prefetch: usize,
    #[arg(long, value_parser = humantime::parse_duration)]
    lease: Duration,
    #[arg(long)]
    tag: u32,
}

#[derive(Args)]
struct ScheduleWorkerArgs {
    #[arg(long)]
    store: String,
    #[arg(long)]
    tag: u32,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("remote-torture: no tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async move {
        match cli.command {
            Command::Jobs(args) => jobs_run(args).await,
            Command::Scheduler(args) => scheduler_run(args).await,
            Command::Worker(args) => worker(args).await.map(|()| true),
            Command::ScheduleWorker(args) => schedule_worker(args).await.map(|()| true),
        }
    });
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("remote-torture: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn open(url: &str) -> Result<Stores> {
    open_within(url, Duration::from_secs(60))
        .await
        .map_err(|e| anyhow!("{}", e.message))
}

/// Opens the store, retrying while the database is away (a replacement worker may start
/// during a database restart), for up to two minutes.
async fn open_patiently(url: &str) -> Result<Stores> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut pause = Duration::from_millis(200);
    loop {
        match open(url).await {
            Ok(stores) => return Ok(stores),
            Err(e) if Instant::now() < deadline => {
                warn!("cannot open the store yet, retrying in {pause:?}: {e:#}");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Runs a read of the final checks, again while it fails, for up to a minute: a client whose
/// connection the database restart cut reconnects on its first use after it.
async fn patiently<T, E, F, Fut>(what: &str, mut read: F) -> Result<T>
where
    E: Into<anyhow::Error>,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, E>>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut pause = Duration::from_millis(100);
    loop {
        match read().await.map_err(Into::into) {
            Ok(value) => return Ok(value),
            Err(e) if Instant::now() < deadline => {
                println!("  {what} failed, retrying in {pause:?}: {e:#}");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(e.context(what.to_string())),
        }
    }
}

/// The torture factory with the defaults every process agrees on.
fn torture_factory(handler: impl remote_core::Handler) -> JobFactory {
    JobFactory::new(TORTURE_JOB, handler)
        .max_attempts(MAX_ATTEMPTS)
        .retry_delay(Duration::from_millis(200))
}

fn tick_factory() -> JobFactory {
    JobFactory::new(
        TICK_JOB,
        handler_fn(|ctx: JobContext| async move { Ok::<_, JobError>(ctx.input) }),
    )
}

fn log_dir(common: &Common, kind: &str) -> Result<PathBuf> {
    let dir = match &common.log_dir {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join(format!(
            "remote-torture-{kind}-{}",
            Utc::now().format("%Y%m%d-%H%M%S")
        )),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {dir:?}"))?;
    Ok(dir)
}

/// Waits until standard input closes (the coordinator is gone) or SIGTERM/SIGINT arrives.
async fn until_told_to_stop() {
    let stdin_closed = async {
        let mut stdin = tokio::io::stdin();
        let mut buf = [0u8; 64];
        while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
    };
    let terminated = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        () = stdin_closed => {}
        () = terminated => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

async fn worker(args: WorkerArgs) -> Result<()> {
    init_tracing();
    let stores = open_patiently(&args.store).await?;
    let log = Arc::new(ExecLog::open(&args.store).await?);
    let pid = std::process::id();
    let processor = Processor::builder_with(stores.jobs.clone(), stores.items.clone())
        .name(format!("torture-{}", args.tag))
        .lease(args.lease)
        .recover_interval(args.lease / 2)
        .grace(Duration::from_secs(2))
        .worker(
            WorkerConfig::multi(args.slots)
                .prefetch(args.prefetch)
                .max_prefetch(args.max_prefetch)
                .wait_time(Duration::from_millis(100)),
        )
        .build();
    processor.register(torture_factory(handler_fn(move |ctx: JobContext| {
        let log = log.clone();
        async move {
            let record = Record {
                id: rand::random::<i64>(),
                job_id: ctx.job_id.to_string(),
                attempt: ctx.attempt,
                pid,
                started_at: Utc::now(),
            };
            let deadline = Instant::now() + Duration::from_secs(120);
            let mut pause = Duration::from_millis(50);
            loop {
                match log.record(&record).await {
                    Ok(()) => break,
                    Err(e) if Instant::now() < deadline => {
                        warn!("recording the execution failed, retrying in {pause:?}: {e:#}");
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(Duration::from_secs(2));
                    }
                    Err(e) => {
                        return Err(JobError::retryable(format!(
                            "the execution could not be recorded: {e:#}"
                        )))
                    }
                }
            }
            let work = rand::thread_rng().gen_range(1..=8);
            tokio::time::sleep(Duration::from_millis(work)).await;
            Ok(json!({"pid": pid, "attempt": ctx.attempt}))
        }
    })))?;
    processor.start_processor();
    until_told_to_stop().await;
    processor.stop_processor().await;
    Ok(())
}

async fn schedule_worker(args: ScheduleWorkerArgs) -> Result<()> {
    init_tracing();
    let stores = open_patiently(&args.store).await?;
    let processor = Processor::builder_with(stores.jobs.clone(), stores.items.clone())
        .name(format!("torture-scheduler-{}", args.tag))
        .scheduler_wait_time(Duration::from_millis(100))
        .build();
    processor.register(tick_factory())?;
    processor.start_scheduler();
    until_told_to_stop().await;
    processor.stop_scheduler().await;
    Ok(())
}

/// Random pause around `mean` (between half and one and a half of it).
fn jitter(mean: Duration) -> Duration {
    mean.mul_f64(rand::thread_rng().gen_range(0.5..1.5))
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

async fn jobs_run(args: JobsArgs) -> Result<bool> {
    let url = args.common.store.clone();
    let logs = log_dir(&args.common, "jobs")?;
    let default = WorkerConfig::multi(args.slots);
    let (prefetch, max_prefetch) = args
        .prefetch
        .map_or((default.prefetch, default.max_prefetch), |p| (p, p));
    println!(
        "remote-torture jobs on {}: {} jobs, {} workers x {} slots + {}-{} prefetched, lease {}, kill every ~{}, database restart: {}",
        redact(&url),
        args.jobs,
        args.workers,
        args.slots,
        prefetch,
        max_prefetch,
        secs(args.lease),
        secs(args.kill_every),
        args.common.restart_db.as_deref().unwrap_or("none"),
    );
    println!("  worker logs in {}", logs.display());
    wipe(&url).await?;
    let stores = open(&url).await?;
    let exec_log = ExecLog::open(&url).await?;
    exec_log.reset().await?;
    let processor = Processor::builder_with(stores.jobs.clone(), stores.items.clone()).build();
    processor.register(torture_factory(handler_fn(|_ctx: JobContext| async move {
        Err::<(), _>(JobError::permanent("the coordinator runs no jobs"))
    })))?;

    let begin = Instant::now();
    let mut enqueued = Vec::with_capacity(args.jobs);
    for start in (0..args.jobs).step_by(500) {
        let inputs = (start..(start + 500).min(args.jobs))
            .map(|n| json!({ "n": n }))
            .collect();
        let ids = processor.add_jobs(TORTURE_JOB, inputs).await?;
        enqueued.extend(ids.into_iter().map(|id| id.to_string()));
    }
    println!(
        "  enqueued {} jobs in {}",
        enqueued.len(),
        secs(begin.elapsed())
    );

    let exe = std::env::current_exe()?;
    let mut fleet = Fleet::new(
        exe,
        vec![
            "worker".into(),
            "--store".into(),
            url.clone(),
            "--slots".into(),
            args.slots.to_string(),
            "--prefetch".into(),
            prefetch.to_string(),
            "--max-prefetch".into(),
            max_prefetch.to_string(),
            "--lease".into(),
            format!("{}ms", args.lease.as_millis()),
        ],
        logs,
    );
    for _ in 0..args.workers {
        fleet.spawn()?;
    }
    let begin = Instant::now();
    let mut next_kill =
        (!args.kill_every.is_zero()).then(|| Instant::now() + jitter(args.kill_every));
    let mut restart = None;
    let mut restarted = false;
    let mut last_report = Instant::now();
    let mut last_count = Instant::now() - Duration::from_secs(1);
    let mut timed_out = false;
    let mut completed = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        for tag in fleet.reap() {
            println!("  !! worker {tag} exited by itself; starting a replacement");
        }
        while fleet.len() < args.workers {
            fleet.spawn()?;
        }
        if next_kill.is_some_and(|t| Instant::now() >= t) {
            fleet.kill_random().await?;
            fleet.spawn()?;
            next_kill = Some(Instant::now() + jitter(args.kill_every));
        }
        if last_count.elapsed() >= Duration::from_secs(1) {
            last_count = Instant::now();
            match processor.count_jobs().await {
                Ok(counts) => {
                    completed = counts.get(&JobStatus::Completed).copied().unwrap_or(0) as usize;
                    if last_report.elapsed() >= Duration::from_secs(5) {
                        last_report = Instant::now();
                        println!(
                            "  {:>6} completed {completed}/{} processing {} queued {} kills {}",
                            secs(begin.elapsed()),
                            args.jobs,
                            counts.get(&JobStatus::Processing).copied().unwrap_or(0),
                            counts.get(&JobStatus::Queued).copied().unwrap_or(0),
                            fleet.killed,
                        );
                    }
                }
                Err(e) => println!("  {:>6} store unavailable: {e}", secs(begin.elapsed())),
            }
        }
        if let Some(command) = &args.common.restart_db {
            if !restarted && completed as f64 >= args.restart_at * args.jobs as f64 {
                restarted = true;
                println!("  {:>6} restarting the database", secs(begin.elapsed()));
                restart = Some(tokio::spawn(restart_database_owned(command.clone())));
            }
        }
        if completed >= args.jobs {
            break;
        }
        if begin.elapsed() > args.timeout {
            timed_out = true;
            println!("  !! gave up after {}", secs(args.timeout));
            break;
        }
    }
    let run_time = begin.elapsed();
    let outage = match restart {
        Some(task) => Some(task.await??),
        None => None,
    };
    fleet.stop_all(Duration::from_secs(10)).await;

    let query = JobQuery {
        job_name: Some(TORTURE_JOB.into()),
        ..Default::default()
    };
    let jobs = patiently("reading the jobs", || processor.list_jobs(&query)).await?;
    let store = stores.jobs.clone();
    let ended: Vec<Result<(String, Ended)>> = futures::stream::iter(jobs)
        .map(|job| {
            let store = store.clone();
            async move {
                let errors = patiently("reading error records", || store.job_errors(&job.id))
                    .await?
                    .ok_or_else(|| anyhow!("job {} vanished while it was read", job.id))?;
                Ok((job.id.to_string(), Ended { job, errors }))
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let stored: HashMap<String, Ended> = ended.into_iter().collect::<Result<_>>()?;
    let executions = patiently("reading the execution log", || exec_log.all()).await?;
    let figures = check_jobs(&enqueued, &stored, &executions);

    println!("result of the jobs run on {}:", redact(&url));
    print!("{}", figures.report());
    println!("  {:<34} {}", "workers started", fleet.started);
    println!("  {:<34} {}", "workers killed (SIGKILL)", fleet.killed);
    println!("  {:<34} {}", "workers that died by themselves", fleet.died);
    match outage {
        Some(o) => println!(
            "  {:<34} 1 ({:.1}s from stop to up)",
            "database restarts",
            (o.to - o.from).num_milliseconds() as f64 / 1000.0
        ),
        None => println!("  {:<34} 0", "database restarts"),
    }
    println!(
        "  {:<34} {} ({:.0} jobs/s)",
        "time to complete every job",
        secs(run_time),
        args.jobs as f64 / run_time.as_secs_f64().max(0.001)
    );
    let failed = figures.violations() + fleet.died + u64::from(timed_out);
    println!("RESULT: {}", if failed == 0 { "PASS" } else { "FAIL" });
    Ok(failed == 0)
}

async fn restart_database_owned(command: String) -> Result<Outage> {
    restart_database(&command).await
}

/// The items the scheduler run races over: Delay items of several periods and every-minute
/// (or every-other-minute) Cron and crontab items in several zones.
fn planned_items() -> Vec<SchedulerItem> {
    let mut items = Vec::new();
    for delay in [3, 5, 7, 11] {
        for _ in 0..3 {
            items.push(SchedulerItem::delay(TICK_JOB, delay));
        }
    }
    let every_minute = CronLists {
        minute: (0..60).collect(),
        ..Default::default()
    };
    items.push(SchedulerItem::cron(TICK_JOB, every_minute.clone()));
    items.push(SchedulerItem::cron(TICK_JOB, every_minute));
    for (expression, zone) in [
        ("* * * * *", "UTC"),
        ("* * * * *", "Europe/Zurich"),
        ("*/2 * * * *", "America/New_York"),
        ("* * * * *", "Asia/Kolkata"),
    ] {
        items.push(SchedulerItem::crontab(TICK_JOB, expression, zone));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(n, item)| {
            let item = item.with_input(json!({ "item": n }));
            item.with_lock_duration(Duration::from_secs(10))
        })
        .collect()
}

async fn scheduler_run(args: SchedulerArgs) -> Result<bool> {
    let url = args.common.store.clone();
    let logs = log_dir(&args.common, "scheduler")?;
    println!(
        "remote-torture scheduler on {}: {} schedulers for {}, kill every {}, database restart: {}",
        redact(&url),
        args.schedulers,
        secs(args.duration),
        if args.kill_every.is_zero() {
            "never".into()
        } else {
            format!("~{}", secs(args.kill_every))
        },
        args.common.restart_db.as_deref().unwrap_or("none"),
    );
    println!("  scheduler logs in {}", logs.display());
    wipe(&url).await?;
    let stores = open(&url).await?;
    let processor = Processor::builder_with(stores.jobs.clone(), stores.items.clone()).build();
    processor.register(tick_factory())?;
    let mut planned = Vec::new();
    for item in planned_items() {
        let schedule: Schedule = item.schedule.clone();
        let id = processor.add_scheduler_item(item).await?;
        let stored = processor.scheduler_item(&id).await?;
        let first = stored
            .next_call_time
            .ok_or_else(|| anyhow!("item {id} has no next call time"))?;
        planned.push(PlannedItem {
            id: id.to_string(),
            schedule,
            first,
        });
    }
    let mut fleet = Fleet::new(
        std::env::current_exe()?,
        vec!["schedule-worker".into(), "--store".into(), url.clone()],
        logs,
    );
    for _ in 0..args.schedulers {
        fleet.spawn()?;
    }
    let begin = Instant::now();
    let mut next_kill =
        (!args.kill_every.is_zero()).then(|| Instant::now() + jitter(args.kill_every));
    let mut restart = None;
    while begin.elapsed() < args.duration {
        tokio::time::sleep(Duration::from_millis(100)).await;
        for tag in fleet.reap() {
            println!("  !! scheduler {tag} exited by itself; starting a replacement");
        }
        while fleet.len() < args.schedulers {
            fleet.spawn()?;
        }
        if next_kill.is_some_and(|t| Instant::now() >= t) {
            fleet.kill_random().await?;
            fleet.spawn()?;
            next_kill = Some(Instant::now() + jitter(args.kill_every));
        }
        if let Some(command) = &args.common.restart_db {
            if restart.is_none() && begin.elapsed() >= args.duration / 2 {
                println!("  {:>6} restarting the database", secs(begin.elapsed()));
                restart = Some(tokio::spawn(restart_database_owned(command.clone())));
            }
        }
    }
    let end = Utc::now();
    let restarts: Vec<Outage> = match restart {
        Some(task) => vec![task.await??],
        None => Vec::new(),
    };
    fleet.stop_all(Duration::from_secs(10)).await;

    let query = JobQuery {
        job_name: Some(TICK_JOB.into()),
        ..Default::default()
    };
    let jobs = patiently("reading the jobs", || processor.list_jobs(&query)).await?;
    let items = patiently("reading the items", || processor.scheduler_items()).await?;
    let mut fired: HashMap<String, Vec<chrono::DateTime<Utc>>> = HashMap::new();
    for job in &jobs {
        let n = job.input.get("item").and_then(|n| n.as_u64());
        let id = n
            .and_then(|n| usize::try_from(n).ok())
            .and_then(|n| planned.get(n))
            .map_or_else(|| format!("input {}", job.input), |p| p.id.clone());
        fired.entry(id).or_default().push(job.queued_at);
    }
    let outages: Vec<Outage> = restarts
        .iter()
        .map(|o| {
            let first_after = jobs
                .iter()
                .map(|j| j.queued_at)
                .filter(|t| *t >= o.to)
                .min();
            Outage {
                from: o.from,
                to: first_after.unwrap_or(o.to),
            }
        })
        .collect();
    let slack = TimeDelta::from_std(args.slack)?;
    let figures = check_scheduler(&planned, &fired, end, slack, &outages);
    println!("result of the scheduler run on {}:", redact(&url));
    print!("{}", figures.report());
    println!("  {:<34} {}", "items still stored", items.len());
    println!("  {:<34} {}", "schedulers started", fleet.started);
    println!("  {:<34} {}", "schedulers killed (SIGKILL)", fleet.killed);
    println!(
        "  {:<34} {}",
        "schedulers that died by themselves", fleet.died
    );
    for (o, seen) in restarts.iter().zip(&outages) {
        println!(
            "  {:<34} 1 ({:.1}s from stop to up, first job {:.1}s after stop)",
            "database restarts",
            (o.to - o.from).num_milliseconds() as f64 / 1000.0,
            (seen.to - seen.from).num_milliseconds() as f64 / 1000.0
        );
    }
    let failed = figures.violations() + fleet.died + u64::from(items.len() != planned.len());
    println!("RESULT: {}", if failed == 0 { "PASS" } else { "FAIL" });
    Ok(failed == 0)
}
