//! remote-core: the model, the store contract and the policy of the remote job queue.
//!
//! An application registers named [`JobFactory`]s with a [`Processor`], adds jobs (JSON input)
//! and scheduler items, and runs job workers and a scheduler worker over a store. Stores
//! implement the narrow [`JobStore`] / [`SchedulerStore`] pair; retry decisions, leases and
//! schedule math live here, once. The rules are those of SPEC.md (R1–R22).

#![warn(missing_docs)]

pub mod clock;
pub mod cron;
pub mod error;
pub mod error_record;
pub mod event;
pub mod factory;
pub mod handler;
pub mod id;
pub mod job;
pub mod processor;
pub mod scheduler_item;
pub mod status;
pub mod store;
pub mod worker;

pub use clock::{Clock, ManualClock, SystemClock};
pub use cron::{CronError, CronLists, Crontab};
pub use error::{Error, Result};
pub use error_record::ErrorRecord;
pub use event::{AttemptEvent, AttemptOutcome};
pub use factory::{FactoryInfo, JobFactory};
pub use handler::{blocking_fn, handler_fn, typed_fn, Handler, JobContext, JobError, ResultExt};
pub use id::{ItemId, JobId, LeaseToken, RecordId};
pub use job::{Job, JobQuery};
pub use processor::{CancelOutcome, Processor, ProcessorBuilder, ProcessorConfig};
pub use scheduler_item::{Schedule, SchedulerItem};
pub use status::{JobStatus, StatusCounts};
pub use store::{Claim, Completion, Failure, JobStore, SchedulerStore, Store, Take};
pub use worker::{WorkerConfig, WorkerKind};

/// Re-exports for store crates and the conformance suite.
#[doc(hidden)]
pub mod __private {
    pub use crate::id::fnv1a;
    pub use async_trait::async_trait;
}
