//! Events of a processor's attempts, for metrics, dashboards and tests.

use std::time::Duration;

use crate::id::JobId;
use crate::status::JobStatus;

/// What happened to one attempt run by a processor, or to its finished jobs.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum AttemptEvent {
    /// A handler started.
    Started {
        /// The job.
        job_id: JobId,
        /// Its factory name.
        job_name: String,
        /// The attempt number (1 for the first).
        attempt: u32,
        /// Time from the job being due (queued or retry time) to its claim, by the processor's clock.
        queue_latency: Duration,
    },
    /// An attempt ended and its outcome was stored, or dropped because the job moved on.
    Finished {
        /// The job.
        job_id: JobId,
        /// Its factory name.
        job_name: String,
        /// The attempt number.
        attempt: u32,
        /// How long the handler ran (wall time).
        run_time: Duration,
        /// How the attempt ended.
        outcome: AttemptOutcome,
    },
    /// Pruning removed finished jobs older than their retention (R33).
    Pruned {
        /// How many, per status.
        removed: crate::status::StatusCounts,
    },
}

/// How an attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttemptOutcome {
    /// Output stored; the job is completed.
    Completed,
    /// It failed and the job is queued for another attempt.
    Retrying,
    /// It failed and the job is in `error`.
    Failed,
    /// The handler snoozed: the job is queued again without using up an attempt (R29).
    Snoozed,
    /// The outcome was refused: the job had been cancelled or recovered meanwhile (its status).
    Dropped(JobStatus),
}
