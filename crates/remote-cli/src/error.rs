//! Errors of the `remote` command and the exit codes they map to.

use std::fmt;

use remote_core::error::error_chain;
use remote_core::Error;

/// Exit code: the command did what it was asked.
pub const EXIT_OK: u8 = 0;
/// Exit code: the command ran but failed (e.g. `add --wait` on a job that ended in `error`).
pub const EXIT_FAILURE: u8 = 1;
/// Exit code: the command line or an argument is malformed (bad JSON, bad id, bad cron rule).
pub const EXIT_USAGE: u8 = 2;
/// Exit code: the job or scheduler item does not exist.
pub const EXIT_NOT_FOUND: u8 = 3;
/// Exit code: the store cannot be reached or refused the call.
pub const EXIT_STORE: u8 = 4;

/// The text `remote --help` shows about exit codes.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  the command failed (e.g. `add --wait` on a job that ended in error, cancelling a finished job)
  2  usage error: bad arguments, JSON, ids, durations or cron rules
  3  job or scheduler item not found
  4  store unreachable or failing";

/// A failed command: a message for the operator and the exit code that classifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    /// One of the `EXIT_*` codes.
    pub code: u8,
    /// What went wrong, for stderr.
    pub message: String,
}

impl CliError {
    /// A failure of the command itself (exit 1).
    pub fn failure(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_FAILURE,
            message: message.into(),
        }
    }

    /// A malformed argument (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_USAGE,
            message: message.into(),
        }
    }

    /// Something named does not exist (exit 3).
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_NOT_FOUND,
            message: message.into(),
        }
    }

    /// The store cannot be reached (exit 4).
    pub fn store(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_STORE,
            message: message.into(),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

impl From<Error> for CliError {
    fn from(error: Error) -> Self {
        let message = error_chain(&error);
        let code = match &error {
            Error::JobNotFound(_) | Error::ItemNotFound(_) => EXIT_NOT_FOUND,
            Error::Store { .. } => EXIT_STORE,
            Error::UnknownJob(_)
            | Error::InvalidRemoveStatus(_)
            | Error::InvalidCron(_)
            | Error::InvalidId { .. }
            | Error::InvalidInput(_) => EXIT_USAGE,
            _ => EXIT_FAILURE,
        };
        Self { code, message }
    }
}

/// Result of a command.
pub type CliResult<T = ()> = Result<T, CliError>;
