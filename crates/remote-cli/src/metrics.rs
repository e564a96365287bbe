//! Prometheus metrics: attempt counters and histograms fed by the processor's attempt events,
//! job counts by status read from the store at scrape time. Written as Prometheus text (0.0.4).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use remote_core::{AttemptEvent, AttemptOutcome, Processor, StatusCounts};
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

use crate::timeline::{Ended, Rates, Timeline};

/// Upper bounds (seconds) of the run-time and queue-latency histogram buckets.
pub const BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

#[derive(Clone, Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, value: Duration) {
        let seconds = value.as_secs_f64();
        for (bound, count) in BUCKETS.iter().zip(self.counts.iter_mut()) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }
}

#[derive(Debug, Default)]
struct State {
    started: BTreeMap<String, u64>,
    completed: BTreeMap<String, u64>,
    failed: BTreeMap<String, u64>,
    retried: BTreeMap<String, u64>,
    dropped: BTreeMap<String, u64>,
    snoozed: BTreeMap<String, u64>,
    pruned: BTreeMap<String, u64>,
    run_time: BTreeMap<String, Histogram>,
    queue_latency: BTreeMap<String, Histogram>,
    missed_events: u64,
    timeline: Timeline,
}

/// Unix seconds now.
fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What a scrape reads besides the counters: the store's counts and this process's workers.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Jobs by status, `None` when the store could not be read.
    pub counts: Option<StatusCounts>,
    /// Scheduler items (active, paused), `None` when the store could not be read.
    pub items: Option<(u64, u64)>,
    /// Handlers running in this process now.
    pub running: usize,
    /// Whether this process runs a job worker.
    pub job_worker: bool,
    /// Whether this process runs a scheduler worker.
    pub scheduler_worker: bool,
}

/// Counters and histograms of this process's attempts.
#[derive(Debug, Default)]
pub struct Metrics {
    state: Mutex<State>,
}

fn bump(map: &mut BTreeMap<String, u64>, name: &str) {
    *map.entry(name.to_string()).or_default() += 1;
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn counter(out: &mut String, name: &str, help: &str, values: &BTreeMap<String, u64>) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} counter");
    for (job, n) in values {
        let _ = writeln!(out, "{name}{{job_name=\"{}\"}} {n}", escape(job));
    }
}

fn histogram(out: &mut String, name: &str, help: &str, values: &BTreeMap<String, Histogram>) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} histogram");
    for (job, h) in values {
        let job = escape(job);
        for (bound, count) in BUCKETS.iter().zip(h.counts.iter()) {
            let _ = writeln!(
                out,
                "{name}_bucket{{job_name=\"{job}\",le=\"{bound}\"}} {count}"
            );
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{job_name=\"{job}\",le=\"+Inf\"}} {}",
            h.count
        );
        let _ = writeln!(out, "{name}_sum{{job_name=\"{job}\"}} {}", h.sum);
        let _ = writeln!(out, "{name}_count{{job_name=\"{job}\"}} {}", h.count);
    }
}

fn gauge_header(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
}

impl Metrics {
    /// Empty metrics.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts one attempt event.
    pub fn record(&self, event: &AttemptEvent) {
        self.record_at(event, now_s());
    }

    /// Counts one attempt event that happened at `at_s` (Unix seconds).
    pub fn record_at(&self, event: &AttemptEvent, at_s: u64) {
        let mut state = self.state();
        match event {
            AttemptEvent::Started {
                job_name,
                queue_latency,
                ..
            } => {
                bump(&mut state.started, job_name);
                state.timeline.started(at_s, *queue_latency);
                state
                    .queue_latency
                    .entry(job_name.clone())
                    .or_default()
                    .observe(*queue_latency);
            }
            AttemptEvent::Finished {
                job_name,
                run_time,
                outcome,
                ..
            } => {
                let map = match outcome {
                    AttemptOutcome::Completed => Some(&mut state.completed),
                    AttemptOutcome::Retrying => Some(&mut state.retried),
                    AttemptOutcome::Failed => Some(&mut state.failed),
                    AttemptOutcome::Snoozed => Some(&mut state.snoozed),
                    AttemptOutcome::Dropped(_) => Some(&mut state.dropped),
                    _ => None,
                };
                if let Some(map) = map {
                    bump(map, job_name);
                }
                let ended = match outcome {
                    AttemptOutcome::Completed => Some(Ended::Completed),
                    AttemptOutcome::Failed => Some(Ended::Failed),
                    AttemptOutcome::Retrying => Some(Ended::Retried),
                    _ => None,
                };
                if let Some(ended) = ended {
                    state.timeline.ended(at_s, ended, *run_time);
                }
                state
                    .run_time
                    .entry(job_name.clone())
                    .or_default()
                    .observe(*run_time);
            }
            AttemptEvent::Pruned { removed } => {
                for (status, n) in removed {
                    *state.pruned.entry(status.to_string()).or_default() += n;
                }
            }
            _ => {}
        }
    }

    /// Attempts per second over the last `window` seconds in points of `step` seconds, with
    /// run-time and queue-latency percentiles of that window (the dashboard's charts).
    pub fn rates(&self, window: u64, step: u64) -> Rates {
        self.state().timeline.rates(now_s(), window, step)
    }

    /// Notes events a slow collector missed.
    pub fn missed(&self, events: u64) {
        self.state().missed_events += events;
    }

    /// The metrics in Prometheus text format.
    pub fn render(&self, snapshot: &Snapshot) -> String {
        let mut out = String::new();
        gauge_header(
            &mut out,
            "remote_store_up",
            "1 when the store answered this scrape.",
        );
        let _ = writeln!(
            out,
            "remote_store_up {}",
            u8::from(snapshot.counts.is_some())
        );
        if let Some(counts) = &snapshot.counts {
            gauge_header(&mut out, "remote_jobs", "Jobs in the store by status.");
            for (status, n) in counts {
                let _ = writeln!(out, "remote_jobs{{status=\"{status}\"}} {n}");
            }
        }
        if let Some((active, paused)) = snapshot.items {
            gauge_header(
                &mut out,
                "remote_scheduler_items",
                "Scheduler items by state.",
            );
            let _ = writeln!(out, "remote_scheduler_items{{state=\"active\"}} {active}");
            let _ = writeln!(out, "remote_scheduler_items{{state=\"paused\"}} {paused}");
        }
        gauge_header(
            &mut out,
            "remote_jobs_running",
            "Job handlers running in this process.",
        );
        let _ = writeln!(out, "remote_jobs_running {}", snapshot.running);
        gauge_header(
            &mut out,
            "remote_worker_up",
            "1 when this process runs the worker.",
        );
        let _ = writeln!(
            out,
            "remote_worker_up{{worker=\"job\"}} {}",
            u8::from(snapshot.job_worker)
        );
        let _ = writeln!(
            out,
            "remote_worker_up{{worker=\"scheduler\"}} {}",
            u8::from(snapshot.scheduler_worker)
        );
        let state = self.state();
        counter(
            &mut out,
            "remote_job_attempts_started_total",
            "Attempts started in this process, by job name.",
            &state.started,
        );
        counter(
            &mut out,
            "remote_jobs_completed_total",
            "Attempts that completed their job, by job name.",
            &state.completed,
        );
        counter(
            &mut out,
            "remote_jobs_failed_total",
            "Attempts that failed and ended their job in error, by job name.",
            &state.failed,
        );
        counter(
            &mut out,
            "remote_jobs_retried_total",
            "Attempts that failed and left their job queued for a retry, by job name.",
            &state.retried,
        );
        counter(
            &mut out,
            "remote_job_outcomes_dropped_total",
            "Attempt outcomes refused because the job was cancelled or recovered meanwhile.",
            &state.dropped,
        );
        counter(
            &mut out,
            "remote_jobs_snoozed_total",
            "Attempts that snoozed their job (queued again without using up an attempt), by job name.",
            &state.snoozed,
        );
        let _ = writeln!(
            out,
            "# HELP remote_jobs_pruned_total Finished jobs removed by pruning in this process, by status."
        );
        let _ = writeln!(out, "# TYPE remote_jobs_pruned_total counter");
        for status in ["cancelled", "completed", "error"] {
            let n = state.pruned.get(status).copied().unwrap_or(0);
            let _ = writeln!(out, "remote_jobs_pruned_total{{status=\"{status}\"}} {n}");
        }
        histogram(
            &mut out,
            "remote_job_run_seconds",
            "Handler run time per attempt, by job name.",
            &state.run_time,
        );
        histogram(
            &mut out,
            "remote_job_queue_latency_seconds",
            "Time from a job being due to its claim, by job name.",
            &state.queue_latency,
        );
        let _ = writeln!(out, "# HELP remote_metrics_missed_events_total Attempt events the metrics collector missed.");
        let _ = writeln!(out, "# TYPE remote_metrics_missed_events_total counter");
        let _ = writeln!(
            out,
            "remote_metrics_missed_events_total {}",
            state.missed_events
        );
        out
    }

    /// Feeds these metrics from a processor's attempt events until the task is aborted.
    pub fn collect(self: &Arc<Self>, processor: &Processor) -> JoinHandle<()> {
        let mut events = processor.subscribe();
        let metrics = self.clone();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(event) => metrics.record(&event),
                    Err(RecvError::Lagged(n)) => metrics.missed(n),
                    Err(RecvError::Closed) => return,
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use remote_core::{JobId, JobStatus};

    #[test]
    fn renders_prometheus_text() {
        let metrics = Metrics::new();
        metrics.record(&AttemptEvent::Started {
            job_id: JobId::new(),
            job_name: "echo".into(),
            attempt: 1,
            queue_latency: Duration::from_millis(20),
        });
        metrics.record(&AttemptEvent::Finished {
            job_id: JobId::new(),
            job_name: "echo".into(),
            attempt: 1,
            run_time: Duration::from_millis(300),
            outcome: AttemptOutcome::Completed,
        });
        let counts: StatusCounts = [(JobStatus::Completed, 1)].into_iter().collect();
        let text = metrics.render(&Snapshot {
            counts: Some(counts),
            ..Snapshot::default()
        });
        for line in [
            "remote_jobs{status=\"completed\"} 1",
            "remote_jobs_completed_total{job_name=\"echo\"} 1",
            "remote_job_run_seconds_bucket{job_name=\"echo\",le=\"0.25\"} 0",
            "remote_job_run_seconds_bucket{job_name=\"echo\",le=\"0.5\"} 1",
            "remote_job_run_seconds_count{job_name=\"echo\"} 1",
            "remote_job_queue_latency_seconds_bucket{job_name=\"echo\",le=\"0.025\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
        }
    }
}
