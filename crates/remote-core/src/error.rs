//! Typed errors of the processor and the stores.

use crate::cron::CronError;
use crate::id::{ItemId, JobId};
use crate::status::JobStatus;

/// Boxed source error of a store.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in a call to the processor or a store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No job with this id.
    #[error("job {0} not found")]
    JobNotFound(JobId),
    /// A job with this id is stored already; the stored one is unchanged.
    #[error("job {0} exists already")]
    JobExists(JobId),
    /// No scheduler item with this id.
    #[error("scheduler item {0} not found")]
    ItemNotFound(ItemId),
    /// No factory is registered under this job name.
    #[error("unknown job '{0}': no job factory of that name is registered")]
    UnknownJob(String),
    /// A factory of this name is registered already.
    #[error("a job factory named '{0}' is already registered")]
    DuplicateFactory(String),
    /// `remove_jobs` was asked for jobs that are still live.
    #[error("jobs with status '{0}' cannot be removed (only cancelled, completed and error)")]
    InvalidRemoveStatus(JobStatus),
    /// A scheduler rule that cannot be parsed or never fires.
    #[error("invalid schedule: {0}")]
    InvalidCron(#[from] CronError),
    /// An id from outside that is not 24 hex digits.
    #[error("malformed {kind} id '{value}'")]
    InvalidId {
        /// What the id was meant to name.
        kind: &'static str,
        /// The offending text (cut to 64 characters).
        value: String,
    },
    /// `process_job` was given a job that is not claimed.
    #[error("job {id} is {status}, not claimed for processing")]
    NotClaimed {
        /// The job.
        id: JobId,
        /// Its status.
        status: JobStatus,
    },
    /// `process_job` was given a job whose attempt this processor is running already (R9).
    #[error("job {0} is already running in this processor")]
    AlreadyRunning(JobId),
    /// Input that does not fit what the call expects.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The store failed (connection lost, query refused, data unreadable).
    #[error("store error: {message}")]
    Store {
        /// What the store was doing.
        message: String,
        /// The underlying driver error.
        #[source]
        source: Option<BoxError>,
    },
}

impl Error {
    /// A store error with its driver error as source.
    pub fn store(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error::Store {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// A store error without a source.
    pub fn store_msg(message: impl Into<String>) -> Self {
        Error::Store {
            message: message.into(),
            source: None,
        }
    }

    /// True for failures of the store itself, which workers retry after a pause.
    pub fn is_store(&self) -> bool {
        matches!(self, Error::Store { .. })
    }
}

/// Result of the processor and the stores.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The error text with its whole source chain: `outer: cause: root cause`.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
