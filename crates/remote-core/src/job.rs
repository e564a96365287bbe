//! A job: one request to run a factory, with its counters and timestamps.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::id::{JobId, LeaseToken};
use crate::status::JobStatus;

/// Default number of attempts a job gets (R1).
pub const DEFAULT_MAX_RETRIES: u32 = 3;
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
    /// Attempts started so far.
    pub retry_counter: u32,
    /// Attempts allowed in all.
    pub max_retries: u32,
    /// Pause after a failed attempt before the job may be pulled again.
    #[serde(with = "millis")]
    pub retry_delay: Duration,
    /// When the job was added; its place in line, kept across retries.
    pub queued_at: DateTime<Utc>,
    /// Not pulled before this time (set by `add_job_at` and by retries).
    pub retry_time: Option<DateTime<Utc>>,
    /// When the latest attempt was claimed.
    pub picked_at: Option<DateTime<Utc>>,
    /// When the job reached a final status (completed, error or cancelled).
    pub completed_at: Option<DateTime<Utc>>,
    /// End of the running attempt's lease.
    pub lease_until: Option<DateTime<Utc>>,
    /// Fencing token of the running attempt.
    pub lease_token: Option<LeaseToken>,
}

impl Job {
    /// A queued job as `add_job` stores it.
    pub fn queued(
        job_name: impl Into<String>,
        input: Value,
        max_retries: u32,
        retry_delay: Duration,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: JobId::new(),
            job_name: job_name.into(),
            input,
            status: JobStatus::Queued,
            output: None,
            retry_counter: 0,
            max_retries,
            retry_delay,
            queued_at: now,
            retry_time: None,
            picked_at: None,
            completed_at: None,
            lease_until: None,
            lease_token: None,
        }
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
