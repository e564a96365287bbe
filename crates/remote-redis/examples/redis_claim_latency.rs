//! Claim and insert latency at a given number of queued jobs, on a real server, with and
//! without priorities and unique keys. Run by hand:
//!
//! ```sh
//! cargo run --release -p remote-redis --example redis_claim_latency -- \
//!     [--queued 1000,1000000] [--modes plain,priorities,unique] [REDIS_URL]
//! ```
//!
//! Modes: `plain` (every job priority 0, no unique key), `priorities` (priorities spread over
//! -5..=5), `unique` (priorities, and every job with a unique key of its own). Each run uses a
//! fresh random key prefix and clears it afterwards. For each queue length and mode it fills
//! the queue, then times, one call at a time from one client: single-job inserts, 100-job
//! inserts, single-job claims, 100-job claims and batches of 100 completions, and prints mean,
//! median and 99th percentile as the client saw them, the server's mean time per call (its
//! script, and for a claim of jobs written before layout 5 the pipelined `HGETALL`s that read
//! them back), and the commands each call ran on average (its cost, free of the machine's
//! load). The queue never drops below the length asked while timed. The server's figures count
//! every client's calls: run on a server of its own.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use remote_core::{
    ClaimJobs, InsertJobs, Job, JobStore, Lease, LeaseToken, OnConflict, Outcome, OutcomeKind,
};
use remote_redis::{RedisOptions, RedisStore};
use serde_json::json;

const SINGLE_INSERTS: usize = 1_000;
const BATCH_INSERTS: usize = 50;
const SINGLE_CLAIMS: usize = 2_000;
const BATCH_CLAIMS: usize = 50;
const BATCH: usize = 100;
const FILL_BATCH: usize = 2_000;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Plain,
    Priorities,
    Unique,
}

impl Mode {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "plain" => Some(Mode::Plain),
            "priorities" => Some(Mode::Priorities),
            "unique" => Some(Mode::Unique),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Mode::Plain => "plain",
            Mode::Priorities => "priorities",
            Mode::Unique => "unique",
        }
    }

    /// Job `n` of this mode, queued at `at`.
    fn job(self, n: usize, at: DateTime<Utc>) -> Job {
        let mut job = Job::queued("echo", json!({ "n": n }), 3, Duration::from_secs(10), at);
        if self != Mode::Plain {
            // A spread that puts each new job among many others of its priority.
            job.priority = (n.wrapping_mul(7919) % 11) as i16 - 5;
        }
        if self == Mode::Unique {
            job.unique_key = Some(format!("job-{n}"));
        }
        job
    }
}

/// Times of one kind of call, as the client saw them, and the server's own time for the
/// script calls it ran meanwhile (`INFO commandstats`, less disturbed by the client's
/// scheduling; it counts every client's calls, so run on a server of its own).
struct Phase {
    times: Vec<Duration>,
    server: Stats,
}

impl Phase {
    async fn start(store: &RedisStore, calls: usize) -> remote_core::Result<Self> {
        Ok(Self {
            times: Vec::with_capacity(calls),
            server: script_stats(store).await?,
        })
    }

    async fn report(
        mut self,
        store: &RedisStore,
        queued: usize,
        mode: Mode,
        name: &str,
    ) -> remote_core::Result<()> {
        let now = script_stats(store).await?;
        let calls = (now.scripts - self.server.scripts).max(1) as f64;
        let server = (now.usec - self.server.usec) as f64 / calls;
        let commands = (now.commands - self.server.commands) as f64 / calls;
        let times = &mut self.times;
        times.sort();
        let mean = times.iter().sum::<Duration>() / u32::try_from(times.len()).unwrap_or(1);
        let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
        println!(
            "| {queued:>9} | {:<10} | {name:<22} | {:>5} | {:>7.3} | {:>7.3} | {:>7.3} | {:>9.1} \
             | {:>8.1} |",
            mode.name(),
            times.len(),
            mean.as_secs_f64() * 1e3,
            at(0.5).as_secs_f64() * 1e3,
            at(0.99).as_secs_f64() * 1e3,
            server,
            commands
        );
        if std::env::var_os("REDIS_CLAIM_LATENCY_COMMANDS").is_some() {
            for (command, (calls, usec)) in &now.each {
                let (calls_before, usec_before) =
                    self.server.each.get(command).copied().unwrap_or((0, 0));
                if *calls > calls_before && command != "info" {
                    println!(
                        "|   {command}: {:.1} calls, {:.1} µs per script call",
                        (calls - calls_before) as f64 / calls_count(&now, &self.server),
                        (usec - usec_before) as f64 / calls_count(&now, &self.server),
                    );
                }
            }
        }
        Ok(())
    }
}

/// Script calls between two readings (at least 1).
fn calls_count(now: &Stats, before: &Stats) -> f64 {
    (now.scripts - before.scripts).max(1) as f64
}

/// What the server ran so far, from `INFO commandstats`.
struct Stats {
    /// Script calls (`EVALSHA`).
    scripts: u64,
    /// Microseconds the script calls took, and the `HGETALL`s: no script of the timed calls
    /// runs one, so each is a claim's read-back of a job written before layout 5.
    usec: u64,
    /// Commands run, the scripts' own commands included, `EVALSHA` and `INFO` not.
    commands: u64,
    /// Per command: calls and microseconds.
    each: std::collections::BTreeMap<String, (u64, u64)>,
}

async fn script_stats(store: &RedisStore) -> remote_core::Result<Stats> {
    let info: String = remote_redis::redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut store.connection())
        .await
        .map_err(|e| remote_core::Error::store("INFO commandstats", e))?;
    let field = |line: &str, name: &str| -> u64 {
        line.split(',')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let mut stats = Stats {
        scripts: 0,
        usec: 0,
        commands: 0,
        each: Default::default(),
    };
    for line in info.lines() {
        let Some((command, values)) = line
            .strip_prefix("cmdstat_")
            .and_then(|l| l.split_once(':'))
        else {
            continue;
        };
        stats.each.insert(
            command.to_owned(),
            (field(values, "calls"), field(values, "usec")),
        );
        match command {
            "evalsha" => {
                stats.scripts = field(values, "calls");
                stats.usec += field(values, "usec");
            }
            "hgetall" => {
                stats.usec += field(values, "usec");
                stats.commands += field(values, "calls");
            }
            "info" => {}
            _ => stats.commands += field(values, "calls"),
        }
    }
    Ok(stats)
}

fn usage() -> ! {
    eprintln!(
        "usage: redis_claim_latency [--queued N,N...] [--modes plain,priorities,unique] \
         [REDIS_URL]"
    );
    std::process::exit(2)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> remote_core::Result<()> {
    let mut sizes = vec![1_000, 100_000];
    let mut modes = vec![Mode::Plain, Mode::Priorities, Mode::Unique];
    let mut url = std::env::var("REMOTE_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379/".to_owned());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--queued" => {
                let list = args.next().unwrap_or_else(|| usage());
                sizes = list
                    .split(',')
                    .map(|n| n.replace('_', "").parse().unwrap_or_else(|_| usage()))
                    .collect();
            }
            "--modes" => {
                let list = args.next().unwrap_or_else(|| usage());
                modes = list
                    .split(',')
                    .map(|m| Mode::parse(m).unwrap_or_else(|| usage()))
                    .collect();
            }
            _ if arg.starts_with("--") => usage(),
            _ => url = arg,
        }
    }
    println!(
        "| queued    | mode       | call                   | calls | mean ms | p50 ms  | p99 ms  \
         | server µs | commands |"
    );
    println!(
        "|-----------|------------|------------------------|-------|---------|---------|---------\
         |-----------|----------|"
    );
    for &queued in &sizes {
        for &mode in &modes {
            let store = RedisStore::connect_with(
                &url,
                RedisOptions {
                    prefix: format!("remote-bench-{:016x}", rand::random::<u64>()),
                    ..RedisOptions::default()
                },
            )
            .await?;
            let result = measure(&store, queued, mode).await;
            store.clear().await?;
            result?;
        }
    }
    Ok(())
}

/// The server's `used_memory`.
async fn used_memory(store: &RedisStore) -> remote_core::Result<u64> {
    let info: String = remote_redis::redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut store.connection())
        .await
        .map_err(|e| remote_core::Error::store("INFO memory", e))?;
    Ok(info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0))
}

async fn insert(store: &RedisStore, jobs: &[Job]) -> remote_core::Result<()> {
    let answers = store
        .insert_jobs(&InsertJobs {
            jobs,
            on_conflict: OnConflict::Refuse,
        })
        .await?;
    assert!(answers.iter().all(|a| a.is_stored()), "every job is new");
    Ok(())
}

async fn measure(store: &RedisStore, queued: usize, mode: Mode) -> remote_core::Result<()> {
    // Enough that the queue never drops below `queued` while claims are timed.
    let total = queued + SINGLE_CLAIMS + BATCH_CLAIMS * BATCH;
    let start = Utc::now() - TimeDelta::days(1);
    let at = |n: usize| start + TimeDelta::milliseconds(n as i64);
    let before = used_memory(store).await?;
    let filling = Instant::now();
    let mut n = 0;
    while n < total {
        let jobs: Vec<Job> = (n..(n + FILL_BATCH).min(total))
            .map(|k| mode.job(k, at(k)))
            .collect();
        n += jobs.len();
        insert(store, &jobs).await?;
    }
    let fill_rate = total as f64 / filling.elapsed().as_secs_f64();
    let per_job = used_memory(store).await?.saturating_sub(before) / total as u64;
    println!(
        "| {queued:>9} | {:<10} | fill: {fill_rate:.0} jobs/s, {per_job} bytes per queued job |",
        mode.name()
    );

    // Inserts into the full queue, timed; they join it, so claims below find them too.
    let mut singles = Phase::start(store, SINGLE_INSERTS).await?;
    for _ in 0..SINGLE_INSERTS {
        let job = mode.job(n, at(n));
        n += 1;
        let t = Instant::now();
        insert(store, std::slice::from_ref(&job)).await?;
        singles.times.push(t.elapsed());
    }
    singles.report(store, queued, mode, "insert 1").await?;
    let mut batches = Phase::start(store, BATCH_INSERTS).await?;
    for _ in 0..BATCH_INSERTS {
        let jobs: Vec<Job> = (n..n + BATCH).map(|k| mode.job(k, at(k))).collect();
        n += BATCH;
        let t = Instant::now();
        insert(store, &jobs).await?;
        batches.times.push(t.elapsed());
    }
    batches.report(store, queued, mode, "insert 100").await?;

    let names = vec!["echo".to_owned()];
    let claim = |limit: usize| {
        let now = Utc::now();
        ClaimJobs {
            names: &names,
            now,
            lease_until: now + TimeDelta::seconds(30),
            token: LeaseToken::random(),
            limit,
        }
    };
    let mut singles = Phase::start(store, SINGLE_CLAIMS).await?;
    for _ in 0..SINGLE_CLAIMS {
        let call = claim(1);
        let t = Instant::now();
        let got = store.claim_jobs(&call).await?;
        singles.times.push(t.elapsed());
        assert_eq!(got.len(), 1);
    }
    singles.report(store, queued, mode, "claim 1").await?;
    let mut claimed = Vec::with_capacity(BATCH_CLAIMS);
    let mut batches = Phase::start(store, BATCH_CLAIMS).await?;
    for _ in 0..BATCH_CLAIMS {
        let call = claim(BATCH);
        let t = Instant::now();
        let got = store.claim_jobs(&call).await?;
        batches.times.push(t.elapsed());
        assert_eq!(got.len(), BATCH);
        claimed.push(got);
    }
    batches.report(store, queued, mode, "claim 100").await?;
    let mut completions = Phase::start(store, BATCH_CLAIMS).await?;
    for got in claimed {
        let outcomes: Vec<Outcome> = got
            .iter()
            .map(|job| Outcome {
                lease: Lease {
                    id: job.id.clone(),
                    token: job.lease_token.expect("claimed"),
                },
                now: Utc::now(),
                kind: OutcomeKind::Completed {
                    output: job.input.clone(),
                },
            })
            .collect();
        let t = Instant::now();
        store.record_outcomes(&outcomes).await?;
        completions.times.push(t.elapsed());
    }
    completions
        .report(store, queued, mode, "record 100 completions")
        .await?;
    Ok(())
}
