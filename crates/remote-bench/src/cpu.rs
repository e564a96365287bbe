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

/// One reading of `/proc/stat`: when it was taken, the machine's busy ticks until then and
/// its cores. Two readings give the CPU of the stretch between them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reading {
    at: Instant,
    busy: u64,
    cores: usize,
}

impl Reading {
    /// A reading now; `None` where `/proc/stat` cannot be read.
    pub(crate) fn now() -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        Some(Self {
            at: Instant::now(),
            busy: busy_of(&stat)?,
            cores: cores_of(&stat)?,
        })
    }

    /// The machine's busy time from this reading until now.
    pub(crate) fn since(&self) -> Option<Usage> {
        Some(self.until(&Self::now()?))
    }

    /// The machine's busy time from this reading to a `later` one.
    fn until(&self, later: &Self) -> Usage {
        Usage {
            busy_ms: later.busy.saturating_sub(self.busy) as f64 * 1e3 / TICKS_PER_SECOND,
            wall_ms: later.at.duration_since(self.at).as_secs_f64() * 1e3,
            cores: later.cores,
        }
    }
}

/// Readings taken every `period` by a task until `until`: the CPU of a stretch whose end is
/// known only afterwards.
pub(crate) fn sample(period: Duration, until: Instant) -> JoinHandle<Vec<Reading>> {
    let first = Reading::now();
    tokio::spawn(async move {
        let mut samples: Vec<Reading> = first.into_iter().collect();
        while samples.last().is_some_and(|r| r.at < until) {
            tokio::time::sleep(period).await;
            let Some(reading) = Reading::now() else { break };
            samples.push(reading);
        }
        samples
    })
}

/// The machine's busy time from the last of [`sample`]'s readings at or before `from` to the
/// first at or after `to`.
pub(crate) fn between(samples: &[Reading], from: Instant, to: Instant) -> Option<Usage> {
    let start = samples.iter().rev().find(|r| r.at <= from)?;
    let end = samples.iter().find(|r| r.at >= to)?;
    Some(start.until(end))
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
