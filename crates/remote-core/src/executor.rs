//! The executor: runs one claimed attempt's handler to its end — output, error, snooze, panic
//! or timeout — with the attempt's cancellation signal in its context (R3, R4, R10, R28, R29).
//!
//! It neither claims nor stores: the producer hands it a job, and what it returns goes to the
//! completer.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::event::AttemptEvent;
use crate::factory::JobFactory;
use crate::handler::JobContext;
use crate::job::Job;
use crate::outcome::{Ended, Failure};
use crate::shared::Shared;
use crate::trace;

/// What an attempt's run produced.
pub(crate) struct Ran {
    /// How the handler ended.
    pub(crate) ended: Ended,
    /// The most snoozes its factory allows (R29).
    pub(crate) max_snoozes: u32,
    /// How long the handler ran.
    pub(crate) run_time: Duration,
}

/// Runs `job`'s handler with `cancel` in its context, handing it the job's input (taken out of
/// `job`); a panic becomes a retryable failure and a missing factory a failure with a clear
/// record (R7).
pub(crate) async fn execute(shared: &Shared, job: &mut Job, cancel: CancellationToken) -> Ran {
    let span = tracing::info_span!(
        "attempt",
        job_id = %job.id,
        job_name = %job.job_name,
        attempt = job.attempt,
        outcome = tracing::field::Empty
    );
    trace::link(&span, job.trace_context.as_deref());
    if shared.has_listeners() {
        let due = job.not_before.unwrap_or(job.queued_at).max(job.queued_at);
        shared.emit(AttemptEvent::Started {
            job_id: job.id.clone(),
            job_name: job.job_name.clone(),
            attempt: job.attempt,
            queue_latency: job
                .picked_at
                .and_then(|picked| (picked - due).to_std().ok())
                .unwrap_or_default(),
        });
    }
    let factory = shared.factory(&job.job_name);
    let max_snoozes = factory.as_ref().map_or(0, |f| f.info.max_snoozes);
    let started = Instant::now();
    let ended = run_handler(shared, job, factory, cancel)
        .instrument(span.clone())
        .await;
    span.record(
        "outcome",
        match &ended {
            Ended::Output(_) => "completed",
            Ended::Failed(_) => "failed",
            Ended::Snoozed(_) => "snoozed",
        },
    );
    Ran {
        ended,
        max_snoozes,
        run_time: started.elapsed(),
    }
}

async fn run_handler(
    shared: &Shared,
    job: &mut Job,
    factory: Option<Arc<JobFactory>>,
    cancel: CancellationToken,
) -> Ended {
    let Some(factory) = factory else {
        return Ended::Failed(Failure {
            message: format!(
                "unknown job '{}': no job factory of that name is registered in processor '{}'",
                job.job_name, shared.config.name
            ),
            permanent: false,
        });
    };
    tracing::debug!("attempt started");
    let ctx = JobContext::new(
        job.id.clone(),
        job.job_name.clone(),
        job.attempt,
        std::mem::take(&mut job.input),
        cancel.clone(),
    );
    let run = AssertUnwindSafe(factory.handler.run(ctx)).catch_unwind();
    let ran = match job.timeout.or(factory.info.timeout) {
        None => run.await,
        Some(limit) => {
            tokio::pin!(run);
            match tokio::time::timeout(limit, &mut run).await {
                Ok(ran) => ran,
                Err(_) => {
                    cancel.cancel();
                    let grace = shared.config.timeout_grace;
                    if tokio::time::timeout(grace, &mut run).await.is_err() {
                        tracing::warn!(
                            ?limit,
                            ?grace,
                            "attempt timed out and was dropped after its grace period"
                        );
                    }
                    return Ended::Failed(Failure {
                        message: format!("timed out after {limit:?}"),
                        permanent: false,
                    });
                }
            }
        }
    };
    match ran {
        Ok(Ok(output)) => Ended::Output(output),
        Ok(Err(e)) => match e.snoozed_for() {
            Some(delay) => Ended::Snoozed(delay),
            None => Ended::Failed(Failure {
                message: e.message().to_string(),
                permanent: e.is_permanent(),
            }),
        },
        Err(panic) => Ended::Failed(Failure {
            message: panic_message(panic.as_ref()),
            permanent: false,
        }),
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        format!("panic: {s}")
    } else if let Some(s) = payload.downcast_ref::<String>() {
        format!("panic: {s}")
    } else {
        "panic with a non-text payload".into()
    }
}
