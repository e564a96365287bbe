//! remote-sql: SQL stores for the remote job queue, on sqlx: PostgreSQL, SQLite and
//! MariaDB/MySQL (cargo features `postgres`, `sqlite`, `mysql`).
//!
//! One [`SqlStore`] type implements the store contract of `remote-core` for every dialect,
//! chosen by URL (`postgres://…`, `sqlite://…`, `mysql://…`) or by the pool handed to
//! [`SqlStore::from_pool`]. The store logic is written once; each dialect brings its SQL as
//! named query files (`queries/<dialect>/*.sql`) and says the little its database does
//! differently (time and list types, how a batch or a claim is applied). Tables carry a prefix
//! (and on PostgreSQL live in a configurable schema) and are created by embedded, versioned
//! migrations. Claims walk an index in pull order and skip rows other claimers hold (R2); on
//! PostgreSQL, adding a job sends a NOTIFY that wakes idle workers in other processes.

#![warn(missing_docs)]
// Built with some dialects only, what only the others use goes unused; without any, the crate
// still builds, but every way in says which feature is missing.
#![cfg_attr(
    not(all(feature = "postgres", feature = "sqlite", feature = "mysql")),
    allow(dead_code, unused_imports)
)]
#![cfg_attr(
    not(any(feature = "postgres", feature = "sqlite", feature = "mysql")),
    allow(unreachable_code, unused_variables)
)]

mod batch;
mod claim;
mod config;
mod dialect;
mod engine;
mod enqueue;
mod insert;
mod items;
mod jobs;
mod migrate;
#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
mod queries;
mod row;
#[cfg(feature = "sqlite")]
mod sqlite;
mod store;

pub use config::{SqlOptions, DEFAULT_SCHEMA, DEFAULT_TABLE_PREFIX};
#[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
pub use enqueue::SqlConnection;
pub use store::{SqlPool, SqlStore};

/// The sqlx this crate runs on, to build pools for [`SqlStore::from_pool`] with the same version.
pub use sqlx;
