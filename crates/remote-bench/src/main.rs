//! `remote-bench`: throughput, claim cost, latency and scheduler throughput of remote on a
//! store, measured in one run beside the raw limit of the store's own operations and a peer
//! queue (apalis).
//!
//! ```sh
//! remote-bench --store postgres://postgres@127.0.0.1:5432/test --store memory:
//! remote-bench --smoke --store sqlite:///tmp/bench.db --store redis://127.0.0.1:6379/
//! ```
//!
//! Every case runs in its own scratch schema, table prefix, database, key prefix or file, all
//! removed at the end; nothing the URL already holds is touched.

mod alloc;
mod commands;
mod cpu;
mod ours;
mod peer;
mod plot;
mod pruning;
mod raw;
mod report;
mod scheduling;
mod stats;
mod target;

use std::time::{Duration, Instant};

use clap::Parser;

use crate::report::{DrainRow, StoreReport};
use crate::target::{Kind, Target};

#[global_allocator]
static ALLOCATOR: alloc::Counting = alloc::Counting;

/// Error of a benchmark step.
pub type BenchError = Box<dyn std::error::Error + Send + Sync>;
/// Result of a benchmark step.
pub type BenchResult<T> = Result<T, BenchError>;

/// The one job kind of every measurement: a handler that returns at once.
pub const JOB: &str = "noop";

/// Connections a SQL pool gets for a concurrency (the same for remote, the raw loop and apalis).
pub fn pool_size(concurrency: usize) -> u32 {
    u32::try_from(concurrency.clamp(1, 16)).unwrap_or(16) + 1
}

/// Benchmarks remote on one or more stores, beside the raw limit and apalis.
#[derive(Parser, Debug)]
#[command(name = "remote-bench", version)]
struct Args {
    /// Store URL (repeatable): memory:, sqlite://FILE, postgres://…, mysql://… (or
    /// mariadb://…), mongodb://…, redis://….
    #[arg(
        long = "store",
        env = "REMOTE_BENCH_STORE",
        value_delimiter = ' ',
        required = true
    )]
    stores: Vec<String>,
    /// Jobs per end-to-end drain (SQL and Redis stores).
    #[arg(long, default_value_t = 10_000)]
    jobs: usize,
    /// Jobs per end-to-end drain on MongoDB (the test server claims a few hundred per second).
    #[arg(long, default_value_t = 2_000)]
    mongo_jobs: usize,
    /// Jobs per end-to-end drain on the memory store.
    #[arg(long, default_value_t = 100_000)]
    memory_jobs: usize,
    /// Worker concurrencies of the drains.
    #[arg(long, value_delimiter = ',', default_value = "1,8,64")]
    concurrency: Vec<usize>,
    /// Prefetch settings of the drains: `default` (the worker's own: its concurrency, growing
    /// up to its `max_prefetch`) or a fixed number of jobs claimed beyond the free slots.
    #[arg(long, value_delimiter = ',', default_value = "default,1000", value_parser = prefetch)]
    prefetch: Vec<Option<usize>>,
    /// Queue lengths at which claim latency is measured.
    #[arg(long, value_delimiter = ',', default_value = "1000,1000000")]
    queued: Vec<usize>,
    /// Longest queue on MongoDB (the test server's claim cost grows with the queue).
    #[arg(long, default_value_t = 10_000)]
    mongo_max_queued: usize,
    /// Timed claims per queue length.
    #[arg(long, default_value_t = 200)]
    claim_samples: usize,
    /// Jobs timed from enqueue to start, per wake-up mode.
    #[arg(long, default_value_t = 50)]
    latency_samples: usize,
    /// Rounds of the end-to-end drains: each round runs every drain of a concurrency once,
    /// ours and apalis' in turn, and the tables show each drain's median over the rounds, so
    /// that a moment of load on the machine falls on one sample of both queues, not on all of
    /// one.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    rounds: u32,
    /// Fetch batch sizes of the apalis runs (its default is 10).
    #[arg(long, value_delimiter = ',', default_value = "10,1000")]
    peer_batch: Vec<usize>,
    /// Skip the apalis runs.
    #[arg(long)]
    no_peer: bool,
    /// Skip the raw loops.
    #[arg(long)]
    no_raw: bool,
    /// Delay items of the scheduler measurement.
    #[arg(long, default_value_t = 3_000)]
    scheduler_items: usize,
    /// Delay items of the scheduler measurement on MongoDB (the test server is slow).
    #[arg(long, default_value_t = 1_000)]
    mongo_scheduler_items: usize,
    /// Schedulers racing in each scheduler run.
    #[arg(long, value_delimiter = ',', default_value = "1,3")]
    schedulers: Vec<usize>,
    /// Periods (of 2 s) each scheduler run lasts.
    #[arg(long, default_value_t = 3)]
    scheduler_rounds: u32,
    /// Skip the scheduler measurement.
    #[arg(long)]
    no_scheduler: bool,
    /// Poll interval of the polling-only latency run, in ms.
    #[arg(long, default_value_t = 100)]
    poll_ms: u64,
    /// Longest any one drain may take, in seconds.
    #[arg(long, default_value_t = 600)]
    timeout_secs: u64,
    /// A run of a few seconds for CI: small sizes, every measurement once.
    #[arg(long)]
    smoke: bool,
    /// Write the throughput-vs-concurrency chart here (SVG).
    #[arg(long)]
    plot: Option<std::path::PathBuf>,
    /// Write the measurements here (JSON).
    #[arg(long)]
    json: Option<std::path::PathBuf>,
    /// Instead of the other measurements: claim latency while pruning this many finished jobs,
    /// on each SQL store given (see the `pruning` module).
    #[arg(long)]
    prune: Option<usize>,
}

/// A `--prefetch` value: `default` or a number of jobs.
fn prefetch(value: &str) -> Result<Option<usize>, String> {
    match value {
        "default" => Ok(None),
        n => n
            .parse()
            .map(Some)
            .map_err(|e| format!("'{n}' is neither 'default' nor a number of jobs: {e}")),
    }
}

/// Sizes of one run.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Jobs per drain.
    pub jobs: usize,
    /// Drain concurrencies.
    pub concurrency: Vec<usize>,
    /// Drain prefetch settings (`None`: the worker's default).
    pub prefetch: Vec<Option<usize>>,
    /// Rounds of the drains, each drain's median reported.
    pub rounds: usize,
    /// Queue lengths for claim latency.
    pub queued: Vec<usize>,
    /// Timed claims per queue length.
    pub samples: usize,
    /// Timed enqueue→start samples.
    pub latency_samples: usize,
    /// apalis fetch batch sizes.
    pub peer_batches: Vec<usize>,
    /// Longest drain.
    pub timeout: Duration,
    /// Scheduler items (none: no scheduler measurement).
    pub scheduler_items: usize,
    /// Schedulers per scheduler run.
    pub schedulers: Vec<usize>,
    /// Periods per scheduler run.
    pub scheduler_rounds: u32,
}

fn settings(args: &Args, kind: Kind) -> Settings {
    let mut s = Settings {
        jobs: match kind {
            Kind::Memory => args.memory_jobs,
            Kind::Mongo => args.mongo_jobs,
            _ => args.jobs,
        },
        concurrency: args.concurrency.clone(),
        prefetch: args.prefetch.clone(),
        rounds: args.rounds as usize,
        queued: args.queued.clone(),
        samples: args.claim_samples,
        latency_samples: args.latency_samples,
        peer_batches: if args.no_peer {
            Vec::new()
        } else {
            args.peer_batch.clone()
        },
        timeout: Duration::from_secs(args.timeout_secs),
        scheduler_items: match (args.no_scheduler, kind) {
            (true, _) => 0,
            (false, Kind::Mongo) => args.mongo_scheduler_items,
            (false, _) => args.scheduler_items,
        },
        schedulers: args.schedulers.clone(),
        scheduler_rounds: args.scheduler_rounds,
    };
    if kind == Kind::Mongo {
        s.queued = s
            .queued
            .iter()
            .map(|q| (*q).min(args.mongo_max_queued))
            .collect();
        s.queued.dedup();
    }
    if args.smoke {
        s.jobs = if kind == Kind::Memory { 5_000 } else { 200 };
        s.concurrency = vec![1, 8];
        s.rounds = 1;
        s.queued = vec![100, 2_000];
        s.samples = 20;
        s.latency_samples = 5;
        s.peer_batches.truncate(1);
        s.timeout = Duration::from_secs(60);
        s.scheduler_items = s.scheduler_items.min(300);
        s.scheduler_rounds = 1;
    }
    s
}

/// What the raw loop issues on a backend.
fn raw_loop(kind: Kind) -> Option<&'static str> {
    match kind {
        Kind::Memory => None,
        Kind::Postgres => Some(
            "remote-sql's own statements `claim_jobs` (limit 1) and `record_outcomes` (one \
             entry), read from the store, each its own commit",
        ),
        Kind::Sqlite => Some(
            "remote-sql's own statements `claim_jobs` (limit 1) and `record_outcomes` (one \
             JSON row), read from the store, each its own commit",
        ),
        Kind::MySql => Some(
            "remote-sql's own statements `pick_jobs` and `claim_picked_jobs` (limit 1) in one \
             transaction, then `record_outcome`, read from the store",
        ),
        Kind::Mongo => Some(
            "remote-mongo's three-command claim of one job (sorted read of candidate ids, \
             `updateMany` with the claim's mark, read back) and a one-entry `bulkWrite`, with the \
             driver",
        ),
        Kind::Redis => Some(
            "the store's own `claim_jobs` (limit 1) and `record_outcomes` (one entry), one Lua \
             script each, without the processor",
        ),
    }
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// An error with its sources, outermost first.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(&format!(": {e}"));
        source = e.source();
    }
    text
}

fn step<T>(report: &mut StoreReport, what: &str, result: BenchResult<T>) -> Option<T> {
    match result {
        Ok(v) => Some(v),
        Err(e) => {
            let note = format!("{what}: not measured ({})", chain(e.as_ref()));
            eprintln!("  {note}");
            report.notes.push(note);
            None
        }
    }
}

async fn run_store(target: &Target, args: &Args) -> StoreReport {
    let s = settings(args, target.kind);
    let mut report = StoreReport {
        store: target.name().into(),
        url: target.display.clone(),
        jobs: s.jobs,
        ..Default::default()
    };
    eprintln!("{}: {} (load {})", target.name(), target.display, load());
    report.rounds = s.rounds;
    let peer = if !s.peer_batches.is_empty()
        && matches!(target.kind, Kind::Postgres | Kind::Sqlite | Kind::Redis)
    {
        match peer::Peer::prepare(target).await {
            Ok(peer) => Some(peer),
            Err(e) => {
                report.notes.push(format!("apalis not run: {e}"));
                None
            }
        }
    } else {
        None
    };
    for &c in &s.concurrency {
        let mut ours: Vec<(Option<usize>, Vec<f64>)> =
            s.prefetch.iter().map(|&p| (p, Vec::new())).collect();
        let mut theirs: Vec<(usize, Vec<f64>)> = match &peer {
            Some(_) => s.peer_batches.iter().map(|&b| (b, Vec::new())).collect(),
            None => Vec::new(),
        };
        for round in 1..=s.rounds {
            for (prefetch, samples) in &mut ours {
                let label = prefetch.map_or_else(|| "default".to_string(), |p| p.to_string());
                if let Some((drain, enqueue)) = step(
                    &mut report,
                    &format!("drain at concurrency {c}, prefetch {label}, round {round}"),
                    ours::drain(target, &s, c, *prefetch).await,
                ) {
                    eprintln!(
                        "  ours   c={c:<3} prefetch {label:<7} {drain:>10.0} jobs/s  (enqueue {enqueue:.0} jobs/s)"
                    );
                    samples.push(drain);
                    report.enqueue.get_or_insert(enqueue);
                }
            }
            if let Some(peer) = &peer {
                for (b, samples) in &mut theirs {
                    let result = peer.drain(&s, c, *b).await;
                    if let Some(v) = step(
                        &mut report,
                        &format!("apalis at concurrency {c}, batch {b}, round {round}"),
                        result,
                    ) {
                        eprintln!("  apalis c={c:<3} b={b:<4} {v:>10.0} jobs/s");
                        samples.push(v);
                    }
                }
            }
        }
        let mut row = DrainRow {
            concurrency: c,
            ..Default::default()
        };
        for (prefetch, samples) in ours {
            match (prefetch, stats::median(samples)) {
                (_, None) => {}
                (None, Some(v)) => row.ours = Some(v),
                (Some(p), Some(v)) => row.prefetched.push((p, v)),
            }
        }
        for (b, samples) in theirs {
            if let Some(v) = stats::median(samples) {
                row.peer.push((b, v));
            }
        }
        if !args.no_raw {
            if let Some(raw) = step(
                &mut report,
                &format!("raw loop at concurrency {c}"),
                raw::drain(target, &s, c).await,
            )
            .flatten()
            {
                eprintln!("  raw    c={c:<3} {raw:>10.0} jobs/s");
                row.raw = Some(raw);
            }
        }
        report.drains.push(row);
    }
    if !args.no_raw {
        report.raw_loop = raw_loop(target.kind).map(str::to_string);
    }
    if target.kind == Kind::MySql && !s.peer_batches.is_empty() {
        report.notes.push(
            "apalis: no peer on MariaDB/MySQL — apalis-mysql is published only as 1.0.0-rc.8, \
             whose apalis-sql 1.0.0-rc.9 does not build against apalis-core 1.0"
                .into(),
        );
    }
    if let Some(peer) = peer {
        if let Err(e) = peer.cleanup().await {
            eprintln!("  cannot remove apalis's scratch data: {e}");
        }
    }
    let sustained_c = if s.concurrency.contains(&8) {
        8
    } else {
        s.concurrency.iter().copied().max().unwrap_or(1)
    };
    if let Some(v) = step(
        &mut report,
        "sustained",
        ours::sustained(target, &s, sustained_c, 2, 100).await,
    ) {
        eprintln!(
            "  sustained c={sustained_c} {:.0} jobs/s (worker {:.0} jobs/s while 2 producers \
             add for {:.0} ms, {:.0} after)",
            v.rate,
            v.rate_while_adding,
            v.adding_ms,
            v.rate_after.unwrap_or(f64::NAN)
        );
        eprintln!(
            "  alone     producers {:.0} jobs/s, worker {:.0} jobs/s",
            v.adding_alone, v.working_alone
        );
        if let Some(cpu) = &v.cpu {
            eprintln!(
                "  cpu       core-µs per job adding {:.1}, working {:.1}, both {:.1} (cores busy \
                 {:.2} / {:.2} / {:.2} of {})",
                cpu.adding.per_job_us(s.jobs),
                cpu.working.per_job_us(s.jobs),
                cpu.together.per_job_us(s.jobs),
                cpu.adding.cores_busy(),
                cpu.working.cores_busy(),
                cpu.together.cores_busy(),
                cpu.together.cores
            );
        }
        report.sustained = Some(v);
    }
    for &q in &s.queued {
        let started = Instant::now();
        if let Some(latency) = step(
            &mut report,
            &format!("claim latency at {q} queued"),
            ours::claim_latency(target, &s, q).await,
        ) {
            eprintln!(
                "  claim  q={q:<8} p50 {:.3} ms p99 {:.3} ms ({:.1} s with the fill)",
                latency.p50_ms,
                latency.p99_ms,
                started.elapsed().as_secs_f64()
            );
            report.claims.push(report::ClaimRow { queued: q, latency });
        }
    }
    if let Some((l, in_process)) = step(
        &mut report,
        "wake-up latency",
        ours::start_latency(target, &s, true, Duration::ZERO).await,
    ) {
        eprintln!("  wake   p50 {:.2} ms p99 {:.2} ms", l.p50_ms, l.p99_ms);
        report.wake = Some(l);
        if in_process {
            report.notes.push(
                "wake-ups: this store cannot see jobs added by other processes, so the job was \
                 added in the worker's own process (other processes' jobs are found by polling)"
                    .into(),
            );
        }
    }
    if target.kind == Kind::Memory {
        report
            .notes
            .push("polling only: the memory store always wakes its workers in process".into());
    } else {
        let poll = Duration::from_millis(args.poll_ms);
        if let Some(l) = step(
            &mut report,
            "polling latency",
            ours::start_latency(target, &s, false, poll).await,
        )
        .map(|(l, _)| l)
        {
            eprintln!("  poll   p50 {:.2} ms p99 {:.2} ms", l.p50_ms, l.p99_ms);
            report.poll = Some((l, args.poll_ms));
        }
    }
    if target.kind == Kind::Memory {
        let n = if args.smoke { 10_000 } else { 100_000 };
        report.bytes_per_job = step(&mut report, "bytes per job", ours::bytes_per_job(n).await);
    }
    if target.kind == Kind::Mongo {
        if let Some(rows) = step(
            &mut report,
            "commands per claim",
            commands::claim_commands(target).await,
        ) {
            for row in &rows {
                eprintln!(
                    "  claim of {:<3} jobs: {} commands ({})",
                    row.size,
                    row.commands,
                    row.names.join(", ")
                );
            }
            report.claim_commands = rows;
        }
    }
    // Each number of schedulers runs once per round, in turn, as the drains do: a first round
    // lasts about 100 ms, and a moment of load on the machine should fall on one sample.
    let scheduler_rounds = if s.scheduler_items > 0 { s.rounds } else { 0 };
    for round in 1..=scheduler_rounds {
        for &n in &s.schedulers {
            if let Some(mut run) = step(
                &mut report,
                &format!("scheduler run with {n} schedulers, round {round}"),
                scheduling::measure(target, s.scheduler_items, n, s.scheduler_rounds).await,
            ) {
                run.round = round;
                eprintln!(
                    "  schedulers={n} items={} first round {:.0} ms: {:.0} occurrences/s{}; {} fired, {} jobs, {} violations{}",
                    run.items,
                    run.first_round_ms,
                    run.per_second,
                    if run.exact { "" } else { " (from job times)" },
                    run.fired,
                    run.jobs,
                    run.violations(),
                    run.cpu.map_or_else(String::new, |cpu| format!(
                        "; cores busy {:.2} of {}",
                        cpu.cores_busy(),
                        cpu.cores
                    ))
                );
                if let Some(error) = &run.first_error {
                    let note = format!(
                        "scheduler run with {n} schedulers: {} passes failed and were fired \
                         again, the first with: {error}",
                        run.failed_passes
                    );
                    eprintln!("  {note}");
                    report.notes.push(note);
                }
                report.scheduler.push(run);
            }
        }
    }
    if let Err(e) = target.cleanup().await {
        eprintln!(
            "  cannot remove the scratch data of {}: {e}",
            target.display
        );
    }
    report
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Some(jobs) = args.prune {
        for url in &args.stores {
            println!("# claim latency while pruning {jobs} finished jobs: {url}");
            if let Err(e) = pruning::run(url, jobs).await {
                eprintln!("{url}: {e}");
                return std::process::ExitCode::FAILURE;
            }
        }
        return std::process::ExitCode::SUCCESS;
    }
    let started = Instant::now();
    let load_before = load();
    let mut reports = Vec::new();
    for url in &args.stores {
        match Target::new(url) {
            Ok(target) => reports.push(run_store(&target, &args).await),
            Err(e) => {
                eprintln!("{url}: {e}");
                return std::process::ExitCode::from(2);
            }
        }
    }
    let machine = format!(
        "{} cores, load {load_before} before and {} after, {:.0} s",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load(),
        started.elapsed().as_secs_f64()
    );
    println!(
        "# remote-bench{}\n",
        if args.smoke { " (smoke)" } else { "" }
    );
    println!("Machine: {machine}.\n");
    for r in &reports {
        println!("{}", r.table());
    }
    let checks = report::checks(&reports);
    if !checks.is_empty() {
        println!("## Targets\n\n{}", report::checks_table(&checks));
    }
    if let Some(path) = &args.json {
        let json = serde_json::json!({ "machine": machine, "stores": reports });
        if let Err(e) = std::fs::write(
            path,
            serde_json::to_string_pretty(&json).unwrap_or_default(),
        ) {
            eprintln!("cannot write {}: {e}", path.display());
        }
    }
    if let Some(path) = &args.plot {
        if let Err(e) = std::fs::write(path, plot::svg(&reports, &machine)) {
            eprintln!("cannot write {}: {e}", path.display());
        }
    }
    let unmeasured: Vec<&str> = reports
        .iter()
        .filter(|r| r.drains.iter().all(|d| StoreReport::best_ours(d).is_none()))
        .map(|r| r.store.as_str())
        .collect();
    let doubled: Vec<&str> = reports
        .iter()
        .filter(|r| r.scheduler.iter().any(|run| run.violations() > 0))
        .map(|r| r.store.as_str())
        .collect();
    let mut failed = false;
    if !unmeasured.is_empty() {
        eprintln!("no drain could be measured on: {}", unmeasured.join(", "));
        failed = true;
    }
    if !doubled.is_empty() {
        eprintln!(
            "scheduler occurrences without exactly one job on: {}",
            doubled.join(", ")
        );
        failed = true;
    }
    if failed {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}
