//! remote-mongo: a MongoDB store for the remote job queue, on the official `mongodb` driver.
//!
//! [`MongoStore`] keeps jobs (with their error records) and scheduler items in two collections
//! of one database (MongoDB 4.4 or later). Claims are single atomic `findAndModify` calls in
//! pull order, backed by an index created at startup; outcomes are fenced by the lease token;
//! idle workers in other processes are woken through a change stream where the deployment has
//! one. Inputs and outputs are stored as JSON text, so any key is data.

#![warn(missing_docs)]

mod config;
mod documents;
mod jobs;
mod scheduler;

pub use config::{MongoConfig, MongoStore, CLAIM_INDEX, CREATED_INDEX, DUE_INDEX, LEASE_INDEX};
/// The driver, re-exported so applications build clients with the version the store uses.
pub use mongodb;
