//! remote-core: the model, the store contract and the policy of the remote job queue.
//!
//! An application registers named [`JobFactory`]s with a [`Processor`], adds jobs (JSON input)
//! and scheduler items, and runs job workers and a scheduler worker over a store. A store
//! implements the narrow [`JobStore`] / [`SchedulerStore`] pair: atomic state changes that take
//! `now`, nothing else. Retry decisions, leases, prefetch and schedule math live here, once.
//! A worker is a pipeline of one-way parts: a producer claims jobs into a local buffer, an
//! executor runs each attempt, a completer stores outcomes in batches, a lease keeper renews
//! leases in batches and a rescuer recovers the jobs of lost workers. The rules cited (R1…)
//! are those of the behaviour contract, `docs/contract.md` in the repository.

#![warn(missing_docs)]

pub mod clock;
mod completer;
mod config;
pub mod cron;
pub mod error;
pub mod error_record;
pub mod event;
mod executor;
pub mod factory;
mod firing;
pub mod handler;
pub mod id;
pub mod job;
mod job_worker;
mod leases;
mod outcome;
pub mod processor;
mod producer;
mod rescuer;
pub mod retention;
pub mod scheduler_item;
mod shared;
pub mod status;
pub mod store;
mod trace;
pub mod unique;
pub mod worker;

pub use clock::{Clock, ManualClock, SystemClock};
pub use cron::{CronError, CronLists, Crontab};
pub use error::{Error, Result};
pub use error_record::ErrorRecord;
pub use event::{AttemptEvent, AttemptOutcome};
pub use factory::{FactoryInfo, JobFactory};
pub use handler::{blocking_fn, handler_fn, typed_fn, Handler, JobContext, JobError, ResultExt};
pub use id::{ItemId, JobId, LeaseToken, RecordId};
pub use job::{Job, JobOptions, JobQuery};
pub use processor::{CancelOutcome, Processor, ProcessorBuilder, ProcessorConfig, RetryOutcome};
pub use retention::Retention;
pub use scheduler_item::{Misfire, Schedule, SchedulerItem, MISFIRE_GRACE};
pub use status::{JobStatus, StatusCounts, StatusSet};
pub use store::{
    AcquireLeader, CancelJob, ClaimItems, ClaimJobs, ExpiredLeases, InsertJobs, Inserted, JobNames,
    JobStore, Leader, Lease, OnConflict, Outcome, OutcomeKind, PauseNames, PausedName, RemoveJobs,
    RenewLeases, RetryJobs, SchedulerStore, Store, Take,
};
pub use unique::{Unique, UniqueBy};
pub use worker::{WorkerConfig, WorkerKind};

/// The attribute the store traits are written with; a store implements them under it.
pub use async_trait::async_trait;

/// Re-exports for store crates and the conformance suite.
#[doc(hidden)]
pub mod __private {
    pub use async_trait::async_trait;
}
