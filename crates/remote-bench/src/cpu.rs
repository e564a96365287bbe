//! The machine's busy CPU time over a stretch of a run, read from Linux's `/proc/stat`: it
//! shows whether the machine's cores, shared by the benchmark and a local server, bound a run.

use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::task::JoinHandle;

/// Ticks per second of `/proc/stat` (`USER_HZ`, fixed at 100 by the kernel's ABI on the
/// architectures Linux runs this on).
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU a stretch of a run took from the whole machine.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub(crate) struct Usage {
    /// Busy CPU time of all cores together (every process, the server's included), in ms.
    pub busy_ms: f64,
    /// Wall-clock time of the stretch, in ms.
    pub wall_ms: f64,
    /// Cores of the machine.
    pub cores: usize,
}

impl Usage {
    /// Busy core-microseconds per job, for `jobs` jobs.
    pub(crate) fn per_job_us(&self, jobs: usize) -> f64 {
        self.busy_ms * 1e3 / jobs.max(1) as f64
    }

    /// Cores busy on average over the stretch.
    pub(crate) fn cores_busy(&self) -> f64 {
        self.busy_ms / self.wall_ms.max(1e-9)
    }
}

/// A stretch being measured: the machine's busy ticks and the time at its start.
pub(crate) struct Meter {
    busy: u64,
    started: Instant,
}

impl Meter {
    /// Starts measuring; `None` where `/proc/stat` cannot be read.
    pub(crate) fn start() -> Option<Self> {
        Some(Self {
            busy: busy_ticks()?,
            started: Instant::now(),
        })
    }

    /// The machine's busy time since the start.
    pub(crate) fn stop(&self) -> Option<Usage> {
        let wall_ms = self.started.elapsed().as_secs_f64() * 1e3;
        let (busy, cores) = (busy_ticks()?, cores()?);
        Some(Usage {
            busy_ms: busy.saturating_sub(self.busy) as f64 * 1e3 / TICKS_PER_SECOND,
            wall_ms,
            cores,
        })
    }
}

/// The machine's busy ticks, read every `period` by a task until `until`: the CPU of a stretch
/// whose end is known only afterwards.
pub(crate) fn sample(period: Duration, until: Instant) -> JoinHandle<Vec<(Instant, u64)>> {
    let first = busy_ticks().map(|busy| (Instant::now(), busy));
    tokio::spawn(async move {
        let mut samples: Vec<(Instant, u64)> = first.into_iter().collect();
        while samples.last().is_some_and(|(at, _)| *at < until) {
            tokio::time::sleep(period).await;
            let Some(busy) = busy_ticks() else { break };
            samples.push((Instant::now(), busy));
        }
        samples
    })
}

/// The machine's busy time from the last sample at or before `from` to the first at or after
/// `to`, from [`sample`]'s readings.
pub(crate) fn between(samples: &[(Instant, u64)], from: Instant, to: Instant) -> Option<Usage> {
    let start = samples.iter().rev().find(|(at, _)| *at <= from)?;
    let end = samples.iter().find(|(at, _)| *at >= to)?;
    Some(Usage {
        busy_ms: end.1.saturating_sub(start.1) as f64 * 1e3 / TICKS_PER_SECOND,
        wall_ms: end.0.duration_since(start.0).as_secs_f64() * 1e3,
        cores: cores()?,
    })
}

/// Busy ticks of all cores.
fn busy_ticks() -> Option<u64> {
    busy_of(&std::fs::read_to_string("/proc/stat").ok()?)
}

/// Busy ticks of a `/proc/stat` text: every column of its `cpu` line but idle and iowait
/// (guest time is counted in user time already).
fn busy_of(stat: &str) -> Option<u64> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let [user, nice, system, _idle, _iowait, irq, softirq, steal, ..] = ticks[..] else {
        return None;
    };
    Some(user + nice + system + irq + softirq + steal)
}

/// Cores `/proc/stat` counts.
fn cores() -> Option<usize> {
    cores_of(&std::fs::read_to_string("/proc/stat").ok()?)
}

/// Cores of a `/proc/stat` text: its `cpuN` lines.
fn cores_of(stat: &str) -> Option<usize> {
    let n = stat
        .lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count();
    (n > 0).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "cpu  100 5 40 9000 7 3 2 1 0 0\n\
                        cpu0 50 2 20 4500 3 1 1 0 0 0\n\
                        cpu1 50 3 20 4500 4 2 1 1 0 0\n\
                        intr 12345\n";

    #[test]
    fn busy_time_leaves_out_idle_and_iowait() {
        assert_eq!(busy_of(STAT), Some(100 + 5 + 40 + 3 + 2 + 1));
        assert_eq!(busy_of("cpu  1 2 3\n"), None);
        assert_eq!(busy_of("intr 1\n"), None);
    }

    #[test]
    fn cores_are_the_numbered_cpu_lines() {
        assert_eq!(cores_of(STAT), Some(2));
        assert_eq!(cores_of("cpu  1 2 3 4 5 6 7 8\n"), None);
    }
}
