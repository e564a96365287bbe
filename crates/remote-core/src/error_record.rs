//! The record a failed attempt leaves on its job.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::id::RecordId;

/// One failure of one attempt: kept in order, never lost (R3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorRecord {
    /// The record's own id.
    pub id: RecordId,
    /// When the failure was recorded.
    pub created: DateTime<Utc>,
    /// The attempt that failed (1 for the first).
    pub attempt: u32,
    /// The error text with its whole source chain, or the panic message.
    pub message: String,
}

impl ErrorRecord {
    /// A new record for `attempt`, created at `now`.
    pub fn new(attempt: u32, message: impl Into<String>, now: DateTime<Utc>) -> Self {
        Self {
            id: RecordId::new(),
            created: now,
            attempt,
            message: message.into(),
        }
    }
}
