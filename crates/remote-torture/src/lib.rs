//! remote-torture: crash tests of the remote job queue on real stores.
//!
//! The `remote-torture` binary enqueues jobs, runs worker processes that it kills with SIGKILL
//! and replaces, restarts the database once mid-run, and races scheduler processes over Delay
//! and Cron items. This library holds what the binary checks at the end ([`checks`]), where
//! executions are recorded ([`exec_log`]), how a store is prepared ([`prepare`]) and the
//! child processes ([`fleet`]).

#![warn(missing_docs)]

pub mod checks;
pub mod exec_log;
pub mod fleet;
pub mod prepare;
