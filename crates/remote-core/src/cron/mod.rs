//! placeholder until the schedule math lands
use chrono::{DateTime, Utc};
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CronError(pub String);
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct CronLists {
    pub minute: Vec<u32>,
    pub hour: Vec<u32>,
    pub day_of_month: Vec<u32>,
    pub month: Vec<u32>,
    pub day_of_week: Vec<u32>,
}
impl CronLists {
    pub fn validate(&self) -> Result<(), CronError> {
        Ok(())
    }
    pub fn next_after(&self, _after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        None
    }
}
#[derive(Debug, Clone, PartialEq)]
pub struct Crontab;
impl Crontab {
    pub fn parse(_e: &str, _z: &str) -> Result<Crontab, CronError> {
        Ok(Crontab)
    }
    pub fn next_after(&self, _after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        None
    }
}
