//! Logs and traces: the subscriber of the command (text or JSON lines on stderr, `RUST_LOG`),
//! and with the `otel` feature an OpenTelemetry pipeline: every tracing span — among them the
//! core's `attempt` span of each attempt, with `job_id`, `job_name` and `attempt` — exported
//! over OTLP/HTTP, and the metrics of `/metrics` exported as OTLP metrics.

use std::fmt;

use clap::ValueEnum;
use remote_core::Processor;
use tokio::task::JoinHandle;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::error::CliResult;

/// How log lines are written on stderr.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One line of text per event, for people.
    #[default]
    Text,
    /// One JSON object per event (`timestamp`, `level`, `fields`, `target`, `spans`), for log
    /// collectors.
    Json,
}

/// The wire format of the OTLP/HTTP export.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum OtlpProtocol {
    /// Protocol buffers (`application/x-protobuf`), what collectors take by default.
    #[default]
    #[value(name = "http/protobuf")]
    HttpProtobuf,
    /// JSON (`application/json`).
    #[value(name = "http/json")]
    HttpJson,
}

impl fmt::Display for OtlpProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OtlpProtocol::HttpProtobuf => "http/protobuf",
            OtlpProtocol::HttpJson => "http/json",
        })
    }
}

/// Where and how the process exports traces and metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Otlp {
    /// The collector's base URL, e.g. `http://127.0.0.1:4318`; `/v1/traces` and `/v1/metrics`
    /// are added.
    pub endpoint: String,
    /// Protobuf or JSON.
    pub protocol: OtlpProtocol,
}

/// What must live until the process ends: the exporters, flushed when it is dropped.
#[must_use = "dropping the guard stops the export"]
#[derive(Default)]
pub struct Guard {
    #[cfg(feature = "otel")]
    otel: Option<otel::Pipeline>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard").finish_non_exhaustive()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        #[cfg(feature = "otel")]
        if let Some(pipeline) = self.otel.take() {
            pipeline.shutdown();
        }
    }
}

/// Installs the subscriber: `RUST_LOG` or `default_level`, text or JSON, and with `otlp` the
/// OpenTelemetry layer. `otlp` without the `otel` feature is a usage error.
pub fn init(default_level: &str, format: LogFormat, otlp: Option<&Otlp>) -> CliResult<Guard> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = match format {
        LogFormat::Text => fmt.boxed(),
        LogFormat::Json => fmt
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .boxed(),
    }
    .with_filter(filter);
    #[cfg(feature = "otel")]
    {
        // Spans reach the exporter at INFO whatever the log level, so that a command logging
        // only warnings (`remote add`) still exports the span its job links to (R35).
        let (layer, pipeline) = match otlp {
            Some(otlp) => {
                let (layer, pipeline) = otel::start(otlp)?;
                (
                    Some(layer.with_filter(tracing_subscriber::filter::LevelFilter::INFO)),
                    Some(pipeline),
                )
            }
            None => (None, None),
        };
        let _ = tracing_subscriber::registry()
            .with(fmt)
            .with(layer)
            .try_init();
        Ok(Guard { otel: pipeline })
    }
    #[cfg(not(feature = "otel"))]
    {
        if otlp.is_some() {
            return Err(crate::error::CliError::usage(
                "--otlp-endpoint needs the `otel` feature of remote-cli; this build has none",
            ));
        }
        let _ = tracing_subscriber::registry().with(fmt).try_init();
        Ok(Guard::default())
    }
}

/// Records a processor's attempt events as OTLP metrics while the export runs (nothing
/// without it): the counters and histograms of `/metrics`, and the store's jobs by status.
pub fn watch(processor: &Processor) -> Option<JoinHandle<()>> {
    #[cfg(feature = "otel")]
    {
        otel::watch(processor)
    }
    #[cfg(not(feature = "otel"))]
    {
        let _ = processor;
        None
    }
}

/// Logs every attempt event at DEBUG: one structured line per attempt started and ended,
/// per pruning, for following single jobs in production logs.
pub fn log_events(processor: &Processor) -> JoinHandle<()> {
    use remote_core::AttemptEvent;
    use tokio::sync::broadcast::error::RecvError;
    let mut events = processor.subscribe();
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(AttemptEvent::Started {
                    job_id,
                    job_name,
                    attempt,
                    queue_latency,
                    ..
                }) => tracing::debug!(
                    %job_id,
                    %job_name,
                    attempt,
                    queue_latency_ms = queue_latency.as_millis() as u64,
                    "attempt started"
                ),
                Ok(AttemptEvent::Finished {
                    job_id,
                    job_name,
                    attempt,
                    run_time,
                    outcome,
                    ..
                }) => tracing::debug!(
                    %job_id,
                    %job_name,
                    attempt,
                    run_ms = run_time.as_millis() as u64,
                    outcome = ?outcome,
                    "attempt ended"
                ),
                Ok(AttemptEvent::Pruned { removed }) => {
                    tracing::debug!(removed = ?removed, "pruned finished jobs")
                }
                Ok(_) => {}
                Err(RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "attempt events missed by the log")
                }
                Err(RecvError::Closed) => return,
            }
        }
    })
}

#[cfg(feature = "otel")]
mod otel {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex, OnceLock};
    use std::time::Duration;

    use opentelemetry::metrics::{Counter, Histogram, Meter, MeterProvider as _};
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry::KeyValue;
    use opentelemetry_otlp::{MetricExporter, Protocol, SpanExporter, WithExportConfig};
    use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use opentelemetry_sdk::Resource;
    use remote_core::{AttemptEvent, AttemptOutcome, Processor};
    use tokio::sync::broadcast::error::RecvError;
    use tokio::task::JoinHandle;
    use tracing_subscriber::registry::LookupSpan;

    use super::{Otlp, OtlpProtocol};
    use crate::error::{CliError, CliResult};

    /// How often metrics are exported and the store's counts read for them.
    const METRICS_INTERVAL: Duration = Duration::from_secs(10);

    /// The running exporters.
    pub(super) struct Pipeline {
        tracer: SdkTracerProvider,
        meter: SdkMeterProvider,
    }

    impl Pipeline {
        pub(super) fn shutdown(self) {
            let _ = self.tracer.force_flush();
            let _ = self.tracer.shutdown();
            let _ = self.meter.force_flush();
            let _ = self.meter.shutdown();
        }
    }

    static METER: OnceLock<Meter> = OnceLock::new();

    fn resource() -> Resource {
        let builder = Resource::builder();
        if std::env::var_os("OTEL_SERVICE_NAME").is_some() {
            builder.build()
        } else {
            builder.with_service_name("remote").build()
        }
    }

    fn url(base: &str, path: &str) -> String {
        format!("{}/{path}", base.trim_end_matches('/'))
    }

    fn failed(what: &str, e: impl std::fmt::Display) -> CliError {
        CliError::usage(format!("cannot set up the OTLP {what} export: {e}"))
    }

    /// Starts the span and metric exporters; the layer bridges tracing spans to OpenTelemetry.
    pub(super) fn start<S>(otlp: &Otlp) -> CliResult<(impl tracing_subscriber::Layer<S>, Pipeline)>
    where
        S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    {
        let protocol = match otlp.protocol {
            OtlpProtocol::HttpProtobuf => Protocol::HttpBinary,
            OtlpProtocol::HttpJson => Protocol::HttpJson,
        };
        let spans = SpanExporter::builder()
            .with_http()
            .with_protocol(protocol)
            .with_endpoint(url(&otlp.endpoint, "v1/traces"))
            .build()
            .map_err(|e| failed("trace", e))?;
        let tracer = SdkTracerProvider::builder()
            .with_resource(resource())
            .with_batch_exporter(spans)
            .build();
        let metrics = MetricExporter::builder()
            .with_http()
            .with_protocol(protocol)
            .with_endpoint(url(&otlp.endpoint, "v1/metrics"))
            .build()
            .map_err(|e| failed("metrics", e))?;
        let reader = PeriodicReader::builder(metrics)
            .with_interval(METRICS_INTERVAL)
            .build();
        let meter = SdkMeterProvider::builder()
            .with_resource(resource())
            .with_reader(reader)
            .build();
        let _ = METER.set(meter.meter("remote"));
        let layer = tracing_opentelemetry::layer().with_tracer(tracer.tracer("remote"));
        Ok((layer, Pipeline { tracer, meter }))
    }

    struct Instruments {
        started: Counter<u64>,
        completed: Counter<u64>,
        failed: Counter<u64>,
        retried: Counter<u64>,
        snoozed: Counter<u64>,
        dropped: Counter<u64>,
        pruned: Counter<u64>,
        run_time: Histogram<f64>,
        queue_latency: Histogram<f64>,
    }

    impl Instruments {
        fn new(meter: &Meter) -> Self {
            let counter = |name: &'static str, help: &'static str| {
                meter.u64_counter(name).with_description(help).build()
            };
            let seconds = |name: &'static str, help: &'static str| {
                meter
                    .f64_histogram(name)
                    .with_unit("s")
                    .with_description(help)
                    .with_boundaries(crate::metrics::BUCKETS.to_vec())
                    .build()
            };
            Self {
                started: counter(
                    "remote_job_attempts_started",
                    "Attempts started in this process.",
                ),
                completed: counter(
                    "remote_jobs_completed",
                    "Attempts that completed their job.",
                ),
                failed: counter(
                    "remote_jobs_failed",
                    "Attempts that ended their job in error.",
                ),
                retried: counter(
                    "remote_jobs_retried",
                    "Failed attempts whose job will be retried.",
                ),
                snoozed: counter("remote_jobs_snoozed", "Attempts that snoozed their job."),
                dropped: counter(
                    "remote_job_outcomes_dropped",
                    "Outcomes refused because the job was cancelled or recovered meanwhile.",
                ),
                pruned: counter(
                    "remote_jobs_pruned",
                    "Finished jobs removed by pruning in this process.",
                ),
                run_time: seconds("remote_job_run_seconds", "Handler run time per attempt."),
                queue_latency: seconds(
                    "remote_job_queue_latency_seconds",
                    "Time from a job being due to its claim.",
                ),
            }
        }

        fn record(&self, event: &AttemptEvent) {
            match event {
                AttemptEvent::Started {
                    job_name,
                    queue_latency,
                    ..
                } => {
                    let name = [KeyValue::new("job_name", job_name.clone())];
                    self.started.add(1, &name);
                    self.queue_latency
                        .record(queue_latency.as_secs_f64(), &name);
                }
                AttemptEvent::Finished {
                    job_name,
                    run_time,
                    outcome,
                    ..
                } => {
                    let name = [KeyValue::new("job_name", job_name.clone())];
                    let counter = match outcome {
                        AttemptOutcome::Completed => Some(&self.completed),
                        AttemptOutcome::Failed => Some(&self.failed),
                        AttemptOutcome::Retrying => Some(&self.retried),
                        AttemptOutcome::Snoozed => Some(&self.snoozed),
                        AttemptOutcome::Dropped(_) => Some(&self.dropped),
                        _ => None,
                    };
                    if let Some(counter) = counter {
                        counter.add(1, &name);
                    }
                    self.run_time.record(run_time.as_secs_f64(), &name);
                }
                AttemptEvent::Pruned { removed } => {
                    for (status, n) in removed {
                        self.pruned
                            .add(*n, &[KeyValue::new("status", status.to_string())]);
                    }
                }
                _ => {}
            }
        }
    }

    /// Feeds the instruments from the processor's events, and a gauge of the store's jobs by
    /// status read every export interval.
    pub(super) fn watch(processor: &Processor) -> Option<JoinHandle<()>> {
        let meter = METER.get()?;
        let instruments = Instruments::new(meter);
        let counts: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
        let read = counts.clone();
        let _gauge = meter
            .u64_observable_gauge("remote_jobs")
            .with_description("Jobs in the store by status.")
            .with_callback(move |observer| {
                let counts = read.lock().unwrap_or_else(|e| e.into_inner());
                for (status, n) in counts.iter() {
                    observer.observe(*n, &[KeyValue::new("status", status.clone())]);
                }
            })
            .build();
        let mut events = processor.subscribe();
        let reader = processor.clone();
        Some(tokio::spawn(async move {
            let _gauge = _gauge;
            let mut tick = tokio::time::interval(METRICS_INTERVAL);
            loop {
                tokio::select! {
                    event = events.recv() => match event {
                        Ok(event) => instruments.record(&event),
                        Err(RecvError::Lagged(_)) => {}
                        Err(RecvError::Closed) => return,
                    },
                    _ = tick.tick() => {
                        if let Ok(now) = reader.count_jobs().await {
                            let mut counts = counts.lock().unwrap_or_else(|e| e.into_inner());
                            *counts = now.iter().map(|(s, n)| (s.to_string(), *n)).collect();
                        }
                    }
                }
            }
        }))
    }
}
