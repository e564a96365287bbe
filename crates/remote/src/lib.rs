//! remote: a job queue and scheduler with pluggable storage.
//!
//! Register named job factories with a [`Processor`], add jobs (JSON input), run job workers
//! (one job at a time, or many up to a bound) and a scheduler worker (Delay and Cron items),
//! all sharing one store. Stores are chosen by cargo feature: `memory` (default), `postgres`,
//! `sqlite`, `mongodb`. The behaviour every store keeps is SPEC.md (R1–R22).

#![warn(missing_docs)]

pub use remote_core::*;

/// The in-memory store (feature `memory`).
#[cfg(feature = "memory")]
pub use remote_memory::MemoryStore;

/// The MongoDB store, its options and the driver it runs on (feature `mongodb`).
#[cfg(feature = "mongodb")]
pub use remote_mongo::{mongodb, MongoConfig, MongoStore};

/// The PostgreSQL / SQLite store, its options, pool type and the sqlx it runs on
/// (features `postgres`, `sqlite`).
#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub use remote_sql::{sqlx, SqlOptions, SqlPool, SqlStore};
