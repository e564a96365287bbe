//! remote-sql: PostgreSQL and SQLite stores for the remote job queue, on sqlx.
//!
//! One [`SqlStore`] type, two dialects chosen by URL (`postgres://…`, `sqlite://…`) or by the
//! pool handed to [`SqlStore::from_pool`]; enable them with the cargo features `postgres` and
//! `sqlite`. The schema is created by embedded, versioned migrations; tables carry a prefix
//! (and on PostgreSQL live in a configurable schema), so applications can share a database.
//! Claims are single atomic statements on an index in pull order (R2). On PostgreSQL, adding a
//! job sends a NOTIFY that wakes idle workers in other processes; polling stays the fallback.
//! The behaviour is the store contract of `remote-core`, checked by the shared conformance suite.

#![warn(missing_docs)]
// Without a dialect the crate builds, but every way in says which feature is missing.
#![cfg_attr(
    not(any(feature = "postgres", feature = "sqlite")),
    allow(dead_code, unreachable_code, unused_variables)
)]

mod config;
mod migrate;
#[cfg(feature = "postgres")]
mod postgres;
mod row;
#[cfg(feature = "sqlite")]
mod sqlite;
mod store;

pub use config::{SqlOptions, DEFAULT_SCHEMA, DEFAULT_TABLE_PREFIX};
pub use store::{SqlPool, SqlStore};

/// The sqlx this crate runs on, to build pools for [`SqlStore::from_pool`] with the same version.
pub use sqlx;
