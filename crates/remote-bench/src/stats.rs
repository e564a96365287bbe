//! Percentiles and rates.

use std::time::Duration;

use serde::Serialize;

/// The median and the 99th percentile of a set of samples, in milliseconds.
#[derive(Clone, Copy, Debug, Serialize)]
pub(crate) struct Latency {
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Number of samples.
    pub samples: usize,
}

impl Latency {
    /// The percentiles of `samples` (nearest-rank); `None` when there are none.
    pub(crate) fn of(samples: &[Duration]) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        let mut sorted: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        sorted.sort_by(f64::total_cmp);
        let rank = |p: f64| {
            let index = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
            sorted[index]
        };
        Some(Self {
            p50_ms: rank(0.50),
            p99_ms: rank(0.99),
            samples: sorted.len(),
        })
    }
}

/// Items per second.
pub(crate) fn rate(items: usize, elapsed: Duration) -> f64 {
    items as f64 / elapsed.as_secs_f64().max(1e-9)
}
