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

impl JobStatus {
    /// This status's bit in a [`StatusSet`] (queued 1, processing 2, completed 4, cancelled 8,
    /// error 16), the value stores write.
    pub fn bit(self) -> u8 {
        match self {
            JobStatus::Queued => 1,
            JobStatus::Processing => 2,
            JobStatus::Completed => 4,
            JobStatus::Cancelled => 8,
            JobStatus::Error => 16,
        }
    }
}

/// A set of statuses, stored as the sum of their [`JobStatus::bit`]s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "Vec<JobStatus>", from = "Vec<JobStatus>")]
pub struct StatusSet(u8);

impl StatusSet {
    /// No status.
    pub const EMPTY: StatusSet = StatusSet(0);
    /// `queued` and `processing`: the statuses a unique key is held across by default (R27).
    pub const LIVE: StatusSet = StatusSet(1 | 2);

    /// The set of the given statuses.
    pub fn of(statuses: &[JobStatus]) -> Self {
        Self(statuses.iter().fold(0, |bits, s| bits | s.bit()))
    }

    /// The set a store read back from its bits; unknown bits are dropped.
    pub fn from_bits(bits: u8) -> Self {
        Self(bits & 31)
    }

    /// The bits a store writes.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// True when `status` is in the set.
    pub fn contains(self, status: JobStatus) -> bool {
        self.0 & status.bit() != 0
    }

    /// True for the empty set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The statuses in the set, in life-cycle order.
    pub fn iter(self) -> impl Iterator<Item = JobStatus> {
        JobStatus::ALL
            .into_iter()
            .filter(move |s| self.contains(*s))
    }
}

impl From<StatusSet> for Vec<JobStatus> {
    fn from(set: StatusSet) -> Self {
        set.iter().collect()
    }
}

impl From<Vec<JobStatus>> for StatusSet {
    fn from(statuses: Vec<JobStatus>) -> Self {
        Self::of(&statuses)
    }
}
