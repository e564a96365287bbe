//! How the end of an attempt becomes the store outcome that R3 decides: completed, retried
//! after the job's `retry_delay`, or failed for good.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::clock::add;
use crate::error_record::ErrorRecord;
use crate::event::AttemptOutcome;
use crate::id::LeaseToken;
use crate::job::Job;
use crate::status::JobStatus;
use crate::store::{Lease, Outcome, OutcomeKind};

/// How a handler ended.
#[derive(Debug)]
pub(crate) enum Ended {
    /// It returned output.
    Output(Value),
    /// It failed (or panicked, or timed out).
    Failed(Failure),
    /// It asked to run again after this long (R29).
    Snoozed(Duration),
}

/// A failed attempt as the handler (or its absence) reported it.
#[derive(Clone, Debug)]
pub(crate) struct Failure {
    /// The error text with its source chain, or the panic message.
    pub(crate) message: String,
    /// A permanent error ends the job at once (R3).
    pub(crate) permanent: bool,
}

/// The store outcome of `job`'s attempt under `token` that ended as `ended` at `now` (R3,
/// R29): a snooze beyond `max_snoozes` fails the attempt instead.
pub(crate) fn outcome_of(
    job: &Job,
    token: LeaseToken,
    ended: Ended,
    max_snoozes: u32,
    now: DateTime<Utc>,
) -> Outcome {
    let ended = match ended {
        Ended::Snoozed(_) if job.snoozes >= max_snoozes => Ended::Failed(Failure {
            message: format!(
                "snoozed {} times, the most its factory allows; a further snooze fails the attempt",
                job.snoozes
            ),
            permanent: false,
        }),
        other => other,
    };
    let kind = match ended {
        Ended::Output(output) => OutcomeKind::Completed { output },
        Ended::Snoozed(delay) => OutcomeKind::Snooze {
            not_before: add(now, delay),
        },
        Ended::Failed(failure) => {
            let record = ErrorRecord::new(job.attempt, failure.message, now);
            if !failure.permanent && job.attempt < job.max_attempts {
                OutcomeKind::Retry {
                    record,
                    not_before: add(now, job.retry_delay),
                }
            } else {
                OutcomeKind::Failed { record }
            }
        }
    };
    Outcome {
        lease: Lease {
            id: job.id.clone(),
            token,
        },
        now,
        kind,
    }
}

/// The outcome of an attempt whose worker was lost: a failed attempt saying so (R8).
pub(crate) fn lost_worker(job: &Job, token: LeaseToken, now: DateTime<Utc>) -> Outcome {
    let lease = job.lease_until.map(|t| t.to_rfc3339()).unwrap_or_default();
    let failure = Failure {
        message: format!(
            "worker lost: the lease of attempt {} expired at {lease}",
            job.attempt
        ),
        permanent: false,
    };
    outcome_of(job, token, Ended::Failed(failure), 0, now)
}

/// What an applied outcome reports to event listeners, and the job's status after it.
pub(crate) fn applied(kind: &OutcomeKind) -> (AttemptOutcome, JobStatus) {
    match kind {
        OutcomeKind::Completed { .. } => (AttemptOutcome::Completed, JobStatus::Completed),
        OutcomeKind::Retry { .. } => (AttemptOutcome::Retrying, JobStatus::Queued),
        OutcomeKind::Failed { .. } => (AttemptOutcome::Failed, JobStatus::Error),
        OutcomeKind::Snooze { .. } => (AttemptOutcome::Snoozed, JobStatus::Queued),
    }
}
