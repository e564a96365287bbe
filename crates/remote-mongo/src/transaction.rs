//! Transactions of the store's own (adding or retrying jobs with unique keys), run again while
//! they meet concurrent ones.

use std::time::Duration;

use mongodb::options::{ReadConcern, WriteConcern};
use mongodb::ClientSession;
use remote_core::{Error, Result};

use crate::config::MongoStore;
use crate::unique::{may_run_again, no_transactions};

/// Runs of a transaction that keeps meeting concurrent ones before the call gives up.
const MAX_RUNS: u32 = 12;

/// Why a step inside a session failed.
pub(crate) enum Failure {
    /// An answer of the contract (a stored id refused): the transaction is aborted and the
    /// error returned.
    Refused(Error),
    /// The driver or the server failed while doing `0`.
    Driver(&'static str, mongodb::error::Error),
}

impl Failure {
    fn may_run_again(&self) -> bool {
        matches!(self, Failure::Driver(_, e) if may_run_again(e))
    }

    /// The error of the store call.
    pub(crate) fn into_error(self) -> Error {
        match self {
            Failure::Refused(e) => e,
            Failure::Driver(what, e) => Error::store(what, e),
        }
    }
}

/// A transaction on a session of the store's client, run as often as it takes:
///
/// ```text
/// let mut transaction = Transaction::new(store, "adding jobs").await?;
/// loop {
///     transaction.begin().await?;
///     let result = work(transaction.session()).await;
///     if let Some(value) = transaction.finish(result).await? {
///         return Ok(value);
///     }
/// }
/// ```
pub(crate) struct Transaction {
    session: ClientSession,
    what: &'static str,
    run: u32,
}

impl Transaction {
    /// A session for `what`; a store error when the deployment has no transactions.
    pub(crate) async fn new(store: &MongoStore, what: &'static str) -> Result<Self> {
        if !store.transactions {
            return Err(no_transactions(what));
        }
        let session = store
            .database
            .client()
            .start_session()
            .await
            .map_err(|e| Error::store(format!("{what}: starting a session"), e))?;
        Ok(Self {
            session,
            what,
            run: 0,
        })
    }

    /// Starts a run: snapshot reads, majority writes.
    pub(crate) async fn begin(&mut self) -> Result<()> {
        self.run += 1;
        self.session
            .start_transaction()
            .read_concern(ReadConcern::snapshot())
            .write_concern(WriteConcern::majority())
            .await
            .map_err(|e| Error::store(format!("{}: starting a transaction", self.what), e))
    }

    /// The session, for the steps of the run.
    pub(crate) fn session(&mut self) -> &mut ClientSession {
        &mut self.session
    }

    /// Ends the run: commits it when its steps succeeded, else aborts it. `Some` with the
    /// steps' value once committed; `None` when the run met a concurrent transaction and is to
    /// run again (after a short pause); an error when it failed for good.
    pub(crate) async fn finish<T>(
        &mut self,
        result: std::result::Result<T, Failure>,
    ) -> Result<Option<T>> {
        let failure = match result {
            Ok(value) => match self.commit().await {
                Ok(()) => return Ok(Some(value)),
                Err(e) => Failure::Driver("committing", e),
            },
            Err(failure) => {
                // The server may have aborted it already; aborting again is harmless.
                let _ = self.session.abort_transaction().await;
                failure
            }
        };
        if self.run >= MAX_RUNS || !failure.may_run_again() {
            return Err(match failure {
                Failure::Driver(step, e) => Error::store(format!("{}: {step}", self.what), e),
                refused => refused.into_error(),
            });
        }
        tokio::time::sleep(backoff(self.run)).await;
        Ok(None)
    }

    /// Commits, again while the server cannot tell whether it did.
    async fn commit(&mut self) -> mongodb::error::Result<()> {
        let mut tries = 0;
        loop {
            tries += 1;
            match self.session.commit_transaction().await {
                Err(e)
                    if tries < 3
                        && e.contains_label(mongodb::error::UNKNOWN_TRANSACTION_COMMIT_RESULT) =>
                {
                    continue
                }
                other => return other,
            }
        }
    }
}

/// A pause before running a transaction again, growing with `run` and spread by the clock so
/// that transactions that met do not meet again.
fn backoff(run: u32) -> Duration {
    let spread = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()));
    let ceiling_us = (1_u64 << run.min(7)) * 1_000;
    Duration::from_micros(500 + spread % ceiling_us)
}
