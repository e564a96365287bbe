//! The recent past of this process's attempts, for the dashboard's charts: completed, failed
//! and retried attempts per second over the last hour, and recent run times and queue
//! latencies for percentiles. Fed by the processor's attempt events, like the metrics.

use std::collections::VecDeque;
use std::time::Duration;

use serde::Serialize;

/// Seconds of per-second counts kept.
pub const HISTORY_SECONDS: u64 = 3600;

/// Most run-time and queue-latency samples kept (the newest), so memory stays bounded.
pub const MAX_SAMPLES: usize = 20_000;

/// What an attempt's end counts as in the charts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// The job completed.
    Completed,
    /// The job ended in error.
    Failed,
    /// The attempt failed and the job will be retried.
    Retried,
}

#[derive(Clone, Copy, Debug, Default)]
struct Second {
    at: u64,
    counts: [u32; 3],
}

/// Per-second counts of the last hour and recent duration samples.
#[derive(Debug)]
pub struct Timeline {
    seconds: Vec<Second>,
    run_times: VecDeque<(u64, f64)>,
    latencies: VecDeque<(u64, f64)>,
}

impl Default for Timeline {
    fn default() -> Self {
        Self {
            seconds: vec![Second::default(); HISTORY_SECONDS as usize],
            run_times: VecDeque::new(),
            latencies: VecDeque::new(),
        }
    }
}

/// Percentiles of durations in a window, in seconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Percentiles {
    /// Samples in the window.
    pub count: usize,
    /// Median.
    pub p50: Option<f64>,
    /// 90th percentile.
    pub p90: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// Longest.
    pub max: Option<f64>,
}

/// The rates of one window, oldest point first: attempts per second in each step.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Rates {
    /// Unix time (seconds) of the end of the window.
    pub end: u64,
    /// Length of the window in seconds.
    pub window_s: u64,
    /// Length of one point in seconds.
    pub step_s: u64,
    /// Completed jobs per second.
    pub completed: Vec<f64>,
    /// Jobs that ended in error per second.
    pub failed: Vec<f64>,
    /// Failed attempts retried per second.
    pub retried: Vec<f64>,
    /// Handler run times in the window.
    pub run_time: Percentiles,
    /// Queue latencies (due to claimed) in the window.
    pub queue_latency: Percentiles,
}

fn push(samples: &mut VecDeque<(u64, f64)>, at_s: u64, value: Duration) {
    samples.push_back((at_s, value.as_secs_f64()));
    while samples.len() > MAX_SAMPLES
        || samples
            .front()
            .is_some_and(|(t, _)| t + HISTORY_SECONDS < at_s)
    {
        samples.pop_front();
    }
}

fn percentiles(samples: &VecDeque<(u64, f64)>, from_s: u64) -> Percentiles {
    let mut values: Vec<f64> = samples
        .iter()
        .filter(|(t, _)| *t >= from_s)
        .map(|(_, v)| *v)
        .collect();
    values.sort_by(f64::total_cmp);
    let at = |q: f64| -> Option<f64> {
        if values.is_empty() {
            return None;
        }
        let rank = (q * values.len() as f64).ceil() as usize;
        values.get(rank.clamp(1, values.len()) - 1).copied()
    };
    Percentiles {
        count: values.len(),
        p50: at(0.5),
        p90: at(0.9),
        p99: at(0.99),
        max: values.last().copied(),
    }
}

impl Timeline {
    /// Counts an attempt that ended at `at_s` (Unix seconds).
    pub fn ended(&mut self, at_s: u64, how: Ended, run_time: Duration) {
        let slot = &mut self.seconds[(at_s % HISTORY_SECONDS) as usize];
        if slot.at != at_s {
            *slot = Second {
                at: at_s,
                counts: [0; 3],
            };
        }
        let i = match how {
            Ended::Completed => 0,
            Ended::Failed => 1,
            Ended::Retried => 2,
        };
        slot.counts[i] = slot.counts[i].saturating_add(1);
        push(&mut self.run_times, at_s, run_time);
    }

    /// Notes a claim at `at_s` that waited `latency` from due to claimed.
    pub fn started(&mut self, at_s: u64, latency: Duration) {
        push(&mut self.latencies, at_s, latency);
    }

    /// The last `window` seconds before `now_s` (at most an hour) in points of `step` seconds.
    pub fn rates(&self, now_s: u64, window: u64, step: u64) -> Rates {
        let window = window.clamp(1, HISTORY_SECONDS);
        let step = step.clamp(1, window);
        let points = window.div_ceil(step);
        let first = now_s.saturating_sub(points * step - 1);
        let mut series = [
            vec![0.0; points as usize],
            vec![0.0; points as usize],
            vec![0.0; points as usize],
        ];
        for second in first..=now_s {
            let slot = &self.seconds[(second % HISTORY_SECONDS) as usize];
            if slot.at != second {
                continue;
            }
            let point = ((second - first) / step) as usize;
            for (serie, count) in series.iter_mut().zip(slot.counts) {
                serie[point] += f64::from(count) / step as f64;
            }
        }
        let [completed, failed, retried] = series;
        Rates {
            end: now_s,
            window_s: points * step,
            step_s: step,
            completed,
            failed,
            retried,
            run_time: percentiles(&self.run_times, first),
            queue_latency: percentiles(&self.latencies, first),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_sum_seconds_into_points_and_forget_the_old() {
        let mut t = Timeline::default();
        let now = 1_000_000;
        for _ in 0..10 {
            t.ended(now - 1, Ended::Completed, Duration::from_millis(100));
        }
        t.ended(now - 7, Ended::Failed, Duration::from_millis(900));
        t.ended(now - 7, Ended::Retried, Duration::from_millis(500));
        t.ended(now - 2 * HISTORY_SECONDS, Ended::Completed, Duration::ZERO);
        let r = t.rates(now, 10, 5);
        assert_eq!((r.window_s, r.step_s), (10, 5));
        assert_eq!(r.completed, vec![0.0, 2.0]);
        assert_eq!(r.failed, vec![0.2, 0.0]);
        assert_eq!(r.retried, vec![0.2, 0.0]);
        assert_eq!(r.run_time.count, 12);
        assert_eq!(r.run_time.p50, Some(0.1));
        assert_eq!(r.run_time.max, Some(0.9));
        // an hour later the slots are reused; nothing old is counted
        let later = t.rates(now + HISTORY_SECONDS, 60, 60);
        assert_eq!(later.completed, vec![0.0]);
        assert_eq!(later.run_time.count, 0);
    }

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let mut t = Timeline::default();
        for ms in 1..=100 {
            t.started(50, Duration::from_millis(ms));
        }
        let p = t.rates(60, 60, 60).queue_latency;
        assert_eq!(p.count, 100);
        assert_eq!(p.p50, Some(0.05));
        assert_eq!(p.p90, Some(0.09));
        assert_eq!(p.p99, Some(0.099));
        assert_eq!(p.max, Some(0.1));
    }
}
