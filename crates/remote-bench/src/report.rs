//! What one run measured, the tables it prints and the targets it checks.

use std::fmt::Write as _;

use serde::Serialize;

use crate::commands::ClaimCommands;
use crate::cpu::Usage;
use crate::scheduling::SchedulerRun;
use crate::stats::{self, Latency};

/// Throughput of one concurrency: ours and the references.
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct DrainRow {
    /// Worker concurrency.
    pub concurrency: usize,
    /// remote's processor with the worker's default prefetch (its concurrency), jobs/s.
    pub ours: Option<f64>,
    /// remote's processor with other prefetch settings: (jobs claimed ahead, jobs/s).
    pub prefetched: Vec<(usize, f64)>,
    /// Bare claim/complete loop, jobs/s.
    pub raw: Option<f64>,
    /// The peer per fetch batch size: (batch, jobs/s).
    pub peer: Vec<(usize, f64)>,
}

/// Claim latency with a queue of a given length.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ClaimRow {
    /// Jobs queued while claiming.
    pub queued: usize,
    /// Latency of single-job claims.
    pub latency: Latency,
}

/// Producers and a worker together, and how the worker's rate splits around the moment the
/// producers are done: it shows what the producers' inserts take from the worker.
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct Sustained {
    /// Producer tasks.
    pub producers: usize,
    /// The worker's concurrency.
    pub concurrency: usize,
    /// Jobs/s from the start until the last job is done.
    pub rate: f64,
    /// Milliseconds until the producers had added every job.
    pub adding_ms: f64,
    /// Jobs/s the worker completed while the producers were adding, as the store counts them
    /// when the producers are done.
    pub rate_while_adding: f64,
    /// Jobs/s the worker finished after the producers were done.
    pub rate_after: Option<f64>,
    /// Jobs/s of the same producers alone, on a fresh table with no worker running.
    pub adding_alone: f64,
    /// Jobs/s of the same worker alone, working off what they added.
    pub working_alone: f64,
    /// The machine's CPU time of each of the three stretches, where it can be read.
    pub cpu: Option<SustainedCpu>,
}

/// The machine's CPU time while the producers add alone, while the worker works alone and
/// while both run at once: what running both at once costs a job beyond running them apart,
/// and whether the cores bound the sustained run.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub(crate) struct SustainedCpu {
    /// The producers alone.
    pub adding: Usage,
    /// The worker alone.
    pub working: Usage,
    /// Both at once (the sustained run).
    pub together: Usage,
}

/// Everything measured on one store.
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct StoreReport {
    /// Backend name.
    pub store: String,
    /// URL without password.
    pub url: String,
    /// Jobs per drain.
    pub jobs: usize,
    /// Rounds of each drain; the drain tables show medians.
    pub rounds: usize,
    /// End-to-end drains.
    pub drains: Vec<DrainRow>,
    /// Batched enqueue, jobs/s (1000 per call).
    pub enqueue: Option<f64>,
    /// Producers and workers together.
    pub sustained: Option<Sustained>,
    /// Claim latency per queue length.
    pub claims: Vec<ClaimRow>,
    /// Enqueue→start with wake-ups.
    pub wake: Option<Latency>,
    /// Enqueue→start with polling only, and the poll interval in ms.
    pub poll: Option<(Latency, u64)>,
    /// Memory store: heap bytes per queued job.
    pub bytes_per_job: Option<f64>,
    /// Scheduler runs, by number of schedulers.
    pub scheduler: Vec<SchedulerRun>,
    /// MongoDB: commands per claim, by claim size.
    pub claim_commands: Vec<ClaimCommands>,
    /// What the raw loop issues on this store.
    pub raw_loop: Option<String>,
    /// Why something was not measured, and other remarks.
    pub notes: Vec<String>,
}

fn num(v: Option<f64>) -> String {
    match v {
        Some(v) if v >= 100.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.1}"),
        None => "–".into(),
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "–".into(),
    }
}

fn ms(v: f64) -> String {
    if v >= 10.0 {
        format!("{v:.1}")
    } else if v >= 0.1 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

impl StoreReport {
    /// Peer batch sizes measured, in order.
    fn peer_batches(&self) -> Vec<usize> {
        let mut batches: Vec<usize> = self
            .drains
            .iter()
            .flat_map(|r| r.peer.iter().map(|(b, _)| *b))
            .collect();
        batches.sort_unstable();
        batches.dedup();
        batches
    }

    /// Prefetch settings measured beside the default, in order.
    fn prefetches(&self) -> Vec<usize> {
        let mut prefetches: Vec<usize> = self
            .drains
            .iter()
            .flat_map(|r| r.prefetched.iter().map(|(p, _)| *p))
            .collect();
        prefetches.sort_unstable();
        prefetches.dedup();
        prefetches
    }

    /// The best peer figure of a row.
    pub(crate) fn best_peer(row: &DrainRow) -> Option<f64> {
        row.peer.iter().map(|(_, v)| *v).reduce(f64::max)
    }

    /// The best figure of remote in a row, whatever its prefetch.
    pub(crate) fn best_ours(row: &DrainRow) -> Option<f64> {
        row.ours
            .into_iter()
            .chain(row.prefetched.iter().map(|(_, v)| *v))
            .reduce(f64::max)
    }

    /// The report as Markdown tables.
    pub(crate) fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "## {} — {}\n", self.store, self.url);
        let batches = self.peer_batches();
        let prefetches = self.prefetches();
        let _ = writeln!(
            out,
            "End to end: {} no-op jobs enqueued up front, then worked off by a multi worker \
             (jobs/s); prefetch is the number of jobs it claims beyond its free slots: by \
             default its concurrency, growing up to 1000 while slots wait for claims; a number \
             is a fixed prefetch. {}\n",
            self.jobs,
            match self.rounds {
                0 | 1 => "One drain each.".to_string(),
                n => format!(
                    "Each figure is the median of {n} drains; the rounds ran ours and apalis' \
                     drains of one concurrency in turn."
                ),
            }
        );
        let mut head = "| concurrency | ours |".to_string();
        let mut rule = "|---:|---:|".to_string();
        for p in &prefetches {
            let _ = write!(head, " ours, prefetch {p} |");
            rule.push_str("---:|");
        }
        head.push_str(" raw loop |");
        rule.push_str("---:|");
        for b in &batches {
            let _ = write!(head, " apalis batch {b} |");
            rule.push_str("---:|");
        }
        head.push_str(" ours / raw | ours (best) / apalis (best) |");
        rule.push_str("---:|---:|");
        let _ = writeln!(out, "{head}\n{rule}");
        for row in &self.drains {
            let mut line = format!("| {} | {} |", row.concurrency, num(row.ours));
            for p in &prefetches {
                let v = row
                    .prefetched
                    .iter()
                    .find(|(pp, _)| pp == p)
                    .map(|(_, v)| *v);
                let _ = write!(line, " {} |", num(v));
            }
            let _ = write!(line, " {} |", num(row.raw));
            for b in &batches {
                let v = row.peer.iter().find(|(pb, _)| pb == b).map(|(_, v)| *v);
                let _ = write!(line, " {} |", num(v));
            }
            let _ = write!(
                line,
                " {} | {} |",
                ratio(row.ours, row.raw),
                ratio(Self::best_ours(row), Self::best_peer(row))
            );
            let _ = writeln!(out, "{line}");
        }
        if let Some(raw) = &self.raw_loop {
            let _ = writeln!(out, "\nRaw loop: {raw}.");
        }
        out.push('\n');
        let _ = writeln!(out, "| measure | value |\n|---|---:|");
        if let Some(s) = &self.sustained {
            let _ = writeln!(
                out,
                "| sustained: {} producers (batches of 100) + multi({}) worker, jobs/s | {} |",
                s.producers,
                s.concurrency,
                num(Some(s.rate))
            );
            let _ = writeln!(
                out,
                "| sustained: worker's jobs/s while the producers add (for {} ms) / after | {} / {} |",
                num(Some(s.adding_ms)),
                num(Some(s.rate_while_adding)),
                num(s.rate_after)
            );
            let _ = writeln!(
                out,
                "| sustained: the same producers alone / the same worker alone, jobs/s | {} / {} |",
                num(Some(s.adding_alone)),
                num(Some(s.working_alone))
            );
            if let Some(cpu) = &s.cpu {
                let jobs = self.jobs;
                let _ = writeln!(
                    out,
                    "| sustained: the machine's core-µs per job adding alone / working alone / \
                     both at once (cores busy of {}) | {:.1} / {:.1} / {:.1} ({:.2} / {:.2} / {:.2}) |",
                    cpu.together.cores,
                    cpu.adding.per_job_us(jobs),
                    cpu.working.per_job_us(jobs),
                    cpu.together.per_job_us(jobs),
                    cpu.adding.cores_busy(),
                    cpu.working.cores_busy(),
                    cpu.together.cores_busy()
                );
                let apart = cpu.adding.per_job_us(jobs) + cpu.working.per_job_us(jobs);
                let _ = writeln!(
                    out,
                    "| sustained: jobs/s the cores allow at the cost apart, cores / (adding + \
                     working) | {} |",
                    num(Some(cpu.together.cores as f64 * 1e6 / apart.max(1e-9)))
                );
            }
        }
        if let Some(v) = self.enqueue {
            let _ = writeln!(
                out,
                "| batched enqueue (1000 per call), jobs/s | {} |",
                num(Some(v))
            );
        }
        for c in &self.claims {
            let _ = writeln!(
                out,
                "| claim latency, {} queued: p50 / p99 ms | {} / {} |",
                c.queued,
                ms(c.latency.p50_ms),
                ms(c.latency.p99_ms)
            );
        }
        if let [first, .., last] = self.claims.as_slice() {
            let _ = writeln!(
                out,
                "| claim p50 at {} / at {} queued | {:.2}× |",
                last.queued,
                first.queued,
                last.latency.p50_ms / first.latency.p50_ms.max(1e-9)
            );
        }
        if let Some(w) = self.wake {
            let _ = writeln!(
                out,
                "| enqueue→start, idle worker with wake-ups: p50 / p99 ms | {} / {} |",
                ms(w.p50_ms),
                ms(w.p99_ms)
            );
        }
        if let Some((p, every)) = self.poll {
            let _ = writeln!(
                out,
                "| enqueue→start, polling only (every {every} ms): p50 / p99 ms | {} / {} |",
                ms(p.p50_ms),
                ms(p.p99_ms)
            );
        }
        if let Some(b) = self.bytes_per_job {
            let _ = writeln!(out, "| heap bytes per queued job | {b:.0} |");
        }
        for c in &self.claim_commands {
            let _ = writeln!(
                out,
                "| commands per claim of {} jobs ({}) | {} |",
                c.size,
                c.names.join(", "),
                c.commands
            );
        }
        if !self.scheduler.is_empty() {
            let _ = writeln!(
                out,
                "\nScheduler: Delay items every {} s, all due at the start, fired by separate \
                 processors (own pool or connection each, each having fired one item of its own \
                 before) calling `fire_due_items` in a loop; each number of schedulers once \
                 per round, in turn. The targets take the median of the rounds.\n",
                crate::scheduling::DELAY_SECS
            );
            let _ = writeln!(
                out,
                "| round | schedulers | items | first round ms | occurrences/s | cores busy in the first \
                 round | run s | fired | jobs | doubled / missed / wrong id / stray / \
                 unaccounted | largest delay after the first round, ms |\n\
                 |---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"
            );
            for r in &self.scheduler {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {:.0} | {}{} | {} | {:.1} | {} | {} | {} / {} / {} / {} / {} | {} |",
                    r.round,
                    r.schedulers,
                    r.items,
                    r.first_round_ms,
                    num(Some(r.per_second)),
                    if r.exact { "" } else { " (from job times)" },
                    r.cpu.map_or_else(
                        || "—".to_string(),
                        |cpu| format!("{:.2} of {}", cpu.cores_busy(), cpu.cores)
                    ),
                    r.seconds,
                    r.fired,
                    r.jobs,
                    r.doubled,
                    r.missed,
                    r.wrong_ids,
                    r.stray,
                    r.unaccounted,
                    r.max_delay_ms
                );
            }
        }
        for note in &self.notes {
            let _ = writeln!(out, "\nNote: {note}");
        }
        out
    }
}

/// One target of the issue and whether this run met it.
pub(crate) struct Check {
    /// What is checked.
    pub what: String,
    /// Measured value as text.
    pub measured: String,
    /// Met, missed, or not measured.
    pub met: Option<bool>,
}

fn drains_at(r: &StoreReport, c: usize) -> Option<&DrainRow> {
    r.drains.iter().find(|d| d.concurrency == c)
}

/// The targets, checked against the reports of one run.
pub(crate) fn checks(reports: &[StoreReport]) -> Vec<Check> {
    let mut checks = Vec::new();
    let by = |name: &str| reports.iter().find(|r| r.store == name);
    for (store, label) in [
        ("sqlite", "SQLite"),
        ("redis", "Redis"),
        ("postgres", "PostgreSQL"),
    ] {
        for d in by(store).map_or(&[][..], |r| r.drains.as_slice()) {
            let peer = StoreReport::best_peer(d);
            let ours = StoreReport::best_ours(d);
            checks.push(Check {
                what: format!(
                    "{label} ≥ 2× apalis end to end (the better prefetch against the better \
                     fetch batch), concurrency {}",
                    d.concurrency
                ),
                measured: ratio(ours, peer),
                met: ours.zip(peer).map(|(a, b)| a >= 2.0 * b),
            });
        }
    }
    for (store, label) in [("postgres", "PostgreSQL"), ("sqlite", "SQLite")] {
        if let Some([first, .., last]) = by(store).map(|r| r.claims.as_slice()) {
            let r = last.latency.p50_ms / first.latency.p50_ms.max(1e-9);
            checks.push(Check {
                what: format!(
                    "{label} claim p50 at {} queued ≤ 1.5× at {}",
                    last.queued, first.queued
                ),
                measured: format!("{r:.2}×"),
                met: Some(r <= 1.5),
            });
        }
    }
    if let Some(memory) = by("memory") {
        let ours = drains_at(memory, 8).and_then(StoreReport::best_ours);
        checks.push(Check {
            what: "memory ≥ 150,000 jobs/s end to end, concurrency 8".into(),
            measured: ours.map_or("–".into(), |v| format!("{}/s", num(Some(v)))),
            met: ours.map(|v| v >= 150_000.0),
        });
    }
    if let Some(pg) = by("postgres") {
        if let Some(s) = &pg.sustained {
            checks.push(Check {
                what: "PostgreSQL sustained on a fresh table ≥ 5,000 jobs/s".into(),
                measured: format!("{}/s", num(Some(s.rate))),
                met: Some(s.rate >= 5_000.0),
            });
            let drain = drains_at(pg, s.concurrency).and_then(|d| d.ours);
            checks.push(Check {
                what: format!(
                    "PostgreSQL sustained within 80 % of the drain (default prefetch), \
                     concurrency {}",
                    s.concurrency
                ),
                measured: drain.map_or("–".into(), |d| format!("{:.0} %", 100.0 * s.rate / d)),
                met: drain.map(|d| s.rate >= 0.8 * d),
            });
        }
        let rate = |n: usize| {
            stats::median(
                pg.scheduler
                    .iter()
                    .filter(|r| r.schedulers == n)
                    .map(|r| r.per_second)
                    .collect(),
            )
        };
        let (one, three) = (rate(1), rate(3));
        if let (Some(one), Some(first)) = (one, pg.scheduler.first()) {
            checks.push(Check {
                what: format!(
                    "PostgreSQL one scheduler ≥ 5,000 occurrences/s ({} items)",
                    first.items
                ),
                measured: format!("{}/s", num(Some(one))),
                met: Some(one >= 5_000.0),
            });
        }
        if let (Some(one), Some(three)) = (one, three) {
            let r = three / one.max(1e-9);
            checks.push(Check {
                what: "PostgreSQL three schedulers ≥ 1.5× one".into(),
                measured: format!("{r:.2}×"),
                met: Some(r >= 1.5),
            });
        }
        checks.push(Check {
            what: "PostgreSQL idle wake-up p50 ≤ 5 ms".into(),
            measured: pg
                .wake
                .map_or("–".into(), |w| format!("{} ms", ms(w.p50_ms))),
            met: pg.wake.map(|w| w.p50_ms <= 5.0),
        });
    }
    for (store, label) in [("postgres", "PostgreSQL"), ("mongodb", "MongoDB")] {
        for d in by(store).map_or(&[][..], |r| r.drains.as_slice()) {
            checks.push(Check {
                what: format!(
                    "{label} ≥ 70 % of the raw loop, concurrency {}",
                    d.concurrency
                ),
                measured: ratio(d.ours, d.raw),
                met: d.ours.zip(d.raw).map(|(a, b)| a >= 0.7 * b),
            });
        }
    }
    for r in reports {
        if !r.scheduler.is_empty() {
            let violations: usize = r.scheduler.iter().map(SchedulerRun::violations).sum();
            checks.push(Check {
                what: format!("{}: one job per scheduler occurrence", r.store),
                measured: format!("{violations} violations"),
                met: Some(violations == 0),
            });
        }
        if let [first, ..] = r.claim_commands.as_slice() {
            let same = r
                .claim_commands
                .iter()
                .all(|c| c.commands == first.commands);
            let sizes: Vec<String> = r
                .claim_commands
                .iter()
                .map(|c| c.size.to_string())
                .collect();
            let counts: Vec<String> = r
                .claim_commands
                .iter()
                .map(|c| c.commands.to_string())
                .collect();
            checks.push(Check {
                what: format!(
                    "{}: commands per claim the same for {} jobs",
                    r.store,
                    sizes.join(" / ")
                ),
                measured: counts.join(" / "),
                met: Some(same),
            });
        }
    }
    if let (Some(mem), Some(pg)) = (by("memory"), by("postgres")) {
        for d in &mem.drains {
            let pg_row = drains_at(pg, d.concurrency).and_then(|r| r.ours);
            let r = d.ours.zip(pg_row).map(|(a, b)| a / b);
            checks.push(Check {
                what: format!("memory ≥ 20× PostgreSQL, concurrency {}", d.concurrency),
                measured: ratio(d.ours, pg_row),
                met: r.map(|r| r >= 20.0),
            });
        }
    }
    checks
}

/// The checks as a Markdown table.
pub(crate) fn checks_table(checks: &[Check]) -> String {
    let mut out = String::from("| target | measured | |\n|---|---:|---|\n");
    for c in checks {
        let verdict = match c.met {
            Some(true) => "met",
            Some(false) => "missed",
            None => "not measured",
        };
        let _ = writeln!(out, "| {} | {} | {verdict} |", c.what, c.measured);
    }
    out
}
