//! remote-mongo: a MongoDB store for the remote job queue, on the official `mongodb` driver.
//!
//! [`MongoStore`] keeps jobs (with their error records) and scheduler items in two collections
//! of one database (MongoDB 8.0 or later). A claim of any batch size is three commands: a
//! sorted read of candidate ids on an index, one conditional `updateMany`, one read back by a
//! marker of the claim. Outcomes, releases, lease renewals and scheduler takes are one
//! `bulkWrite` per batch, each entry fenced by its lease token or expected state. Idle workers
//! in other processes are woken through a change stream where the deployment has one. Inputs
//! and outputs are stored as JSON text, so any key is data. Documents written by earlier
//! versions are brought to the current layout when a store opens.

#![warn(missing_docs)]

mod bulk;
mod claim;
mod config;
mod documents;
mod indexes;
mod insert;
mod jobs;
mod leaders;
mod migrations;
mod paused;
mod scheduler;
mod transaction;
mod unique;
mod wakeups;

pub use config::{MongoConfig, MongoStore};
/// The driver, re-exported so applications build clients with the version the store uses.
pub use mongodb;
