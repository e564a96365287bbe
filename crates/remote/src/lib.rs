#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

pub use remote_core::*;

/// The in-memory store (feature `memory`).
#[cfg(feature = "memory")]
pub use remote_memory::MemoryStore;

/// The MongoDB store, its options and the driver it runs on (feature `mongodb`).
#[cfg(feature = "mongodb")]
pub use remote_mongo::{mongodb, MongoConfig, MongoStore};

/// The PostgreSQL / SQLite / MariaDB store, its options, pool type and the sqlx it runs on
/// (features `postgres`, `sqlite`, `mysql`).
#[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
pub use remote_sql::{sqlx, SqlOptions, SqlPool, SqlStore};

/// The Redis store and its options (feature `redis`).
#[cfg(feature = "redis")]
pub use remote_redis::{RedisOptions, RedisStore};

/// The code of the repository's README, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct RepositoryReadme;
