//! remote-redis: a Redis store for the remote job queue, on the `redis` crate (tokio).
//!
//! [`RedisStore`] keeps jobs (as hashes, inputs and outputs as their exact JSON text), their
//! error records and scheduler items under one key prefix whose keys share a cluster hash tag.
//! Every state change is one Lua script, so it is atomic and every batch is one round trip.
//! Claims take jobs in pull order — highest priority, then `queued_at`, then id — by merging
//! the heads of one sorted set per job name, so their cost does not grow with the queue;
//! retried, snoozed and delayed jobs wait in a set by `not_before` and join the line when due.
//! Outcomes are fenced by the lease token. A hash from unique key to holder, kept in step by
//! every script that changes a status, makes duplicate inserts atomic across processes.
//! `rediss://` URLs need the `tls` feature.
//! Inserts and releases publish on the store's channel, which wakes idle workers in every
//! process. What survives a server restart depends on the server's AOF settings, which the
//! store reads and warns about when it opens (see the crate README).

#![warn(missing_docs)]

mod codec;
mod durability;
mod jobs;
mod scheduler;
mod scripts;
mod store;
mod tls;
mod wakeups;

pub use durability::Durability;
/// The client crate, re-exported so applications inspect the store with the version it uses.
pub use redis;
pub use store::{RedisOptions, RedisStore, LAYOUT_VERSION};
