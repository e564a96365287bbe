//! Schedule math: when does a recurring job fire next.
//!
//! Two rule shapes share one field-by-field search engine: [`CronLists`], m01.remote's
//! per-unit value lists evaluated in UTC, and [`Crontab`], a five-field crontab
//! expression evaluated in an IANA time zone with Vixie-cron daylight-saving behaviour.

mod crontab;
#[cfg(test)]
mod crontab_tests;
mod fields;
mod lists;
mod parse;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod testkit;

pub use crontab::Crontab;
pub use lists::CronLists;

/// A schedule rule that cannot fire or cannot be parsed; the text says which field and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CronError(pub String);
