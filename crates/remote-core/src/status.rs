//! The status of a job and counts by status.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// Where a job is in its life: `queued` → `processing` → `completed` | `error`, or `cancelled`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Waiting to be claimed (also between retries).
    Queued,
    /// Claimed by a worker whose lease is running.
    Processing,
    /// Finished with output.
    Completed,
    /// Cancelled by a user; never pulled again.
    Cancelled,
    /// Failed for good: a permanent error or the last allowed attempt failed.
    Error,
}

impl JobStatus {
    /// Every status, in life-cycle order.
    pub const ALL: [JobStatus; 5] = [
        JobStatus::Queued,
        JobStatus::Processing,
        JobStatus::Completed,
        JobStatus::Cancelled,
        JobStatus::Error,
    ];

    /// The statuses `remove_jobs` takes when none are given (R6).
    pub const REMOVABLE: [JobStatus; 3] =
        [JobStatus::Cancelled, JobStatus::Completed, JobStatus::Error];

    /// The lowercase name used in stores, logs and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Processing => "processing",
            JobStatus::Completed => "completed",
            JobStatus::Cancelled => "cancelled",
            JobStatus::Error => "error",
        }
    }

    /// True for statuses a job never leaves by itself.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobStatus::Completed | JobStatus::Cancelled | JobStatus::Error
        )
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobStatus {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        JobStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| Error::InvalidInput(format!("unknown job status '{s}'")))
    }
}

/// Number of jobs per status; statuses asked for but absent count zero.
pub type StatusCounts = BTreeMap<JobStatus, u64>;
