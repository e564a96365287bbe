//! A job: one request to run a factory, with its counters and timestamps.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::id::{JobId, LeaseToken};
use crate::status::{JobStatus, StatusSet};
use crate::unique::Unique;

/// Default number of attempts a job gets in all (R1).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
/// Default pause between a failed attempt and the next one (R1).
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(10);

/// A stored job as every store returns it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// The job's id.
    pub id: JobId,
    /// Name of the factory that runs it.
    pub job_name: String,
    /// Input handed to the handler.
    pub input: Value,
    /// Current status.
    pub status: JobStatus,
    /// Output of the completed attempt.
    pub output: Option<Value>,
    /// Attempts started so far (0 before the first claim, 1 during the first attempt).
    pub attempt: u32,
    /// Attempts allowed in all.
    pub max_attempts: u32,
    /// Pause after a failed attempt before the job may be pulled again.
    #[serde(with = "millis")]
    pub retry_delay: Duration,
    /// When the job was added; its place in line, kept across retries.
    pub queued_at: DateTime<Utc>,
    /// Not pulled before this time (set by `add_job_at` and by retries).
    pub not_before: Option<DateTime<Utc>>,
    /// When the latest attempt was claimed.
    pub picked_at: Option<DateTime<Utc>>,
    /// When the job reached a final status (completed, error or cancelled).
    pub completed_at: Option<DateTime<Utc>>,
    /// End of the running attempt's lease.
    pub lease_until: Option<DateTime<Utc>>,
    /// Fencing token of the running attempt.
    pub lease_token: Option<LeaseToken>,
    /// Higher runs first: pull order is priority (highest first), then `queued_at`, then id
    /// (R2, R26). Default 0.
    pub priority: i16,
    /// Jobs sharing a key are one job while one of them has a status in `unique_across`: adding
    /// another returns the stored job's id (R27).
    pub unique_key: Option<String>,
    /// The statuses across which `unique_key` holds (default: queued and processing).
    pub unique_across: StatusSet,
    /// Longest run of one attempt; past it the handler is told to stop and the attempt fails
    /// as timed out (R28).
    #[serde(with = "optional_millis")]
    pub timeout: Option<Duration>,
    /// Times the job was snoozed (R29).
    pub snoozes: u32,
    /// W3C `traceparent` of the span that added the job; each attempt's span links to it (R35).
    pub trace_context: Option<String>,
}

impl Job {
    /// A queued job as `add_job` stores it.
    pub fn queued(
        job_name: impl Into<String>,
        input: Value,
        max_attempts: u32,
        retry_delay: Duration,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: JobId::new(),
            job_name: job_name.into(),
            input,
            status: JobStatus::Queued,
            output: None,
            attempt: 0,
            max_attempts,
            retry_delay,
            queued_at: now,
            not_before: None,
            picked_at: None,
            completed_at: None,
            lease_until: None,
            lease_token: None,
            priority: 0,
            unique_key: None,
            unique_across: StatusSet::LIVE,
            timeout: None,
            snoozes: 0,
            trace_context: None,
        }
    }
}

/// What one added job may set beyond its factory's defaults (R1, R26–R28).
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct JobOptions {
    /// Not pulled before this time.
    pub not_before: Option<DateTime<Utc>>,
    /// Its priority instead of the factory's: higher runs first.
    pub priority: Option<i16>,
    /// How it is kept unique, instead of the factory's way.
    pub unique: Option<Unique>,
    /// The longest run of one attempt, instead of the factory's.
    pub timeout: Option<Duration>,
    /// The W3C `traceparent` its attempts' spans link to, instead of the current span's (R35).
    pub trace_context: Option<String>,
}

impl JobOptions {
    /// No options: the factory's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Not pulled before `at`.
    pub fn not_before(mut self, at: DateTime<Utc>) -> Self {
        self.not_before = Some(at);
        self
    }

    /// Runs with `priority` (higher first).
    pub fn priority(mut self, priority: i16) -> Self {
        self.priority = Some(priority);
        self
    }

    /// Kept unique as `unique` says.
    pub fn unique(mut self, unique: Unique) -> Self {
        self.unique = Some(unique);
        self
    }

    /// Each attempt runs at most `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Links its attempts' spans to the span a W3C `traceparent` names, e.g. one an HTTP
    /// request came with (R35); a malformed one makes adding the job `Error::InvalidInput`.
    pub fn trace_context(mut self, traceparent: impl Into<String>) -> Self {
        self.trace_context = Some(traceparent.into());
        self
    }
}

/// Which jobs `list_jobs` returns and in which order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobQuery {
    /// Only jobs with one of these statuses (all when empty).
    pub statuses: Vec<JobStatus>,
    /// Only jobs of this factory name.
    pub job_name: Option<String>,
    /// Oldest first instead of the default newest first.
    pub oldest_first: bool,
    /// Jobs to skip.
    pub offset: u64,
    /// Most jobs to return (all when `None`).
    pub limit: Option<u64>,
}

impl JobQuery {
    /// True when `job` passes the status and name filters.
    pub fn matches(&self, job: &Job) -> bool {
        (self.statuses.is_empty() || self.statuses.contains(&job.status))
            && self.job_name.as_ref().is_none_or(|n| *n == job.job_name)
    }
}

/// Serde helper writing an optional `Duration` as whole milliseconds or `null`.
pub mod optional_millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the duration as milliseconds, or `null`.
    pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => s.serialize_some(&(d.as_millis().min(u64::MAX as u128) as u64)),
            None => s.serialize_none(),
        }
    }

    /// Reads milliseconds or `null` into an optional duration.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<u64>::deserialize(d).map(|ms| ms.map(Duration::from_millis))
    }
}

/// Serde helper writing a `Duration` as whole milliseconds.
pub mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the duration as milliseconds.
    pub fn serialize<S: Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(value.as_millis().min(u64::MAX as u128) as u64)
    }

    /// Reads milliseconds into a duration.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}
