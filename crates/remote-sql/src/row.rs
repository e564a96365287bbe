//! Row decoding shared by every dialect: each dialect reads its column types into plain values,
//! and the checks and conversions into the core's types happen here, once.
//!
//! Nothing read from the database is trusted: malformed ids, unknown statuses, negative
//! counters or unreadable JSON become store errors, never panics.

use std::time::Duration;

use chrono::{DateTime, Utc};
use remote_core::{
    Error, ErrorRecord, ItemId, Job, JobId, JobStatus, Leader, LeaseToken, PausedName, RecordId,
    Result, SchedulerItem, StatusCounts, StatusSet,
};
use serde_json::Value;

use crate::engine::Row;

/// Typed column access of one row, implemented once over every driver (see `engine`).
pub(crate) trait Columns {
    /// A text column.
    fn text(&self, column: &str) -> Result<Option<String>>;
    /// An integer column.
    fn int(&self, column: &str) -> Result<Option<i64>>;
    /// A boolean column.
    fn boolean(&self, column: &str) -> Result<Option<bool>>;
    /// A timestamp column.
    fn time(&self, column: &str) -> Result<Option<DateTime<Utc>>>;
    /// A JSON column.
    fn json(&self, column: &str) -> Result<Option<Value>>;
    /// A column of free text that may hold NUL characters.
    fn free_text(&self, column: &str) -> Result<Option<String>>;
    /// The row as one line of a statement's plan (a row of `EXPLAIN`).
    fn plan_line(&self) -> Result<String>;
}

/// A NULL where the schema forbids one.
fn required<T>(value: Option<T>, column: &str) -> Result<T> {
    value.ok_or_else(|| Error::store_msg(format!("column {column} is unexpectedly NULL")))
}

fn wrap_id<T>(parsed: Result<T>, column: &str) -> Result<T> {
    parsed.map_err(|e| Error::store(format!("column {column} holds a malformed id"), e))
}

fn count(value: i64, column: &str) -> Result<u32> {
    u32::try_from(value)
        .map_err(|e| Error::store(format!("column {column} holds {value}, not a count"), e))
}

/// A stored status name as a [`JobStatus`].
pub(crate) fn status(name: &str) -> Result<JobStatus> {
    name.parse()
        .map_err(|e| Error::store(format!("unknown job status '{name}' in the store"), e))
}

/// A duration as whole milliseconds, saturating at `i64::MAX`.
pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn duration(ms: i64, column: &str) -> Result<Duration> {
    u64::try_from(ms)
        .map(Duration::from_millis)
        .map_err(|e| Error::store(format!("column {column} holds a negative duration"), e))
}

/// The job in `row` (all columns of the jobs table).
pub(crate) fn job(row: &dyn Columns) -> Result<Job> {
    Ok(Job {
        id: wrap_id(JobId::parse(&required(row.text("id")?, "id")?), "id")?,
        job_name: required(row.text("job_name")?, "job_name")?,
        input: required(row.json("input")?, "input")?,
        status: status(&required(row.text("status")?, "status")?)?,
        output: row.json("output")?,
        attempt: count(required(row.int("attempt")?, "attempt")?, "attempt")?,
        max_attempts: count(
            required(row.int("max_attempts")?, "max_attempts")?,
            "max_attempts",
        )?,
        retry_delay: duration(
            required(row.int("retry_delay_ms")?, "retry_delay_ms")?,
            "retry_delay_ms",
        )?,
        queued_at: required(row.time("queued_at")?, "queued_at")?,
        not_before: row.time("not_before")?,
        picked_at: row.time("picked_at")?,
        completed_at: row.time("completed_at")?,
        lease_until: row.time("lease_until")?,
        lease_token: row.int("lease_token")?.map(LeaseToken::from_i64),
        priority: narrow(required(row.int("priority")?, "priority")?, "priority")?,
        unique_key: row.text("unique_key")?,
        unique_across: StatusSet::from_bits(narrow(
            required(row.int("unique_across")?, "unique_across")?,
            "unique_across",
        )?),
        timeout: row
            .int("timeout_ms")?
            .map(|ms| duration(ms, "timeout_ms"))
            .transpose()?,
        snoozes: count(required(row.int("snoozes")?, "snoozes")?, "snoozes")?,
        trace_context: row.text("trace_context")?,
    })
}

/// An integer column's value as a narrower integer type.
fn narrow<T: TryFrom<i64>>(value: i64, column: &str) -> Result<T>
where
    T::Error: std::error::Error + Send + Sync + 'static,
{
    T::try_from(value)
        .map_err(|e| Error::store(format!("column {column} holds {value}, out of range"), e))
}

/// The paused name in `row` (`name`, `since`).
pub(crate) fn paused(row: &dyn Columns) -> Result<PausedName> {
    Ok(PausedName {
        name: text(row, "name")?,
        since: required(row.time("since")?, "since")?,
    })
}

/// The maintenance lease in `row` (`name`, `holder`, `until`, `note`).
pub(crate) fn leader(row: &dyn Columns) -> Result<Leader> {
    Ok(Leader {
        name: text(row, "name")?,
        holder: text(row, "holder")?,
        until: required(row.time("until")?, "until")?,
        note: row.json("note")?.unwrap_or(Value::Null),
    })
}

/// The error record in `row` (`id`, `created`, `attempt`, `message`), `None` when `id` is NULL
/// (a job without records, read through an outer join).
pub(crate) fn record(row: &dyn Columns) -> Result<Option<ErrorRecord>> {
    let Some(id) = row.text("id")? else {
        return Ok(None);
    };
    Ok(Some(ErrorRecord {
        id: wrap_id(RecordId::parse(&id), "id")?,
        created: required(row.time("created")?, "created")?,
        attempt: count(required(row.int("attempt")?, "attempt")?, "attempt")?,
        message: required(row.free_text("message")?, "message")?,
    }))
}

/// The scheduler item in `row` (all columns of the items table).
pub(crate) fn item(row: &dyn Columns) -> Result<SchedulerItem> {
    let schedule = required(row.json("schedule")?, "schedule")?;
    let misfire = serde_json::from_value(required(row.json("misfire")?, "misfire")?)
        .map_err(|e| Error::store("column misfire holds no valid misfire policy", e))?;
    Ok(SchedulerItem {
        id: wrap_id(ItemId::parse(&required(row.text("id")?, "id")?), "id")?,
        job_name: required(row.text("job_name")?, "job_name")?,
        input: required(row.json("input")?, "input")?,
        active: required(row.boolean("active")?, "active")?,
        next_call_time: row.time("next_call_time")?,
        locked_until: row.time("locked_until")?,
        lock_duration: duration(
            required(row.int("lock_duration_ms")?, "lock_duration_ms")?,
            "lock_duration_ms",
        )?,
        schedule: serde_json::from_value(schedule)
            .map_err(|e| Error::store("column schedule holds no valid schedule", e))?,
        misfire,
    })
}

/// Counts per status from `(status, n)` rows.
pub(crate) fn counts<'a>(rows: impl IntoIterator<Item = &'a Row>) -> Result<StatusCounts> {
    let mut counts = StatusCounts::new();
    for row in rows {
        let status = status(&required(row.text("status")?, "status")?)?;
        let n = required(row.int("n")?, "n")?;
        let n = u64::try_from(n).map_err(|e| Error::store("negative count", e))?;
        *counts.entry(status).or_insert(0) += n;
    }
    Ok(counts)
}

/// An integer column that must be set.
pub(crate) fn int(row: &dyn Columns, column: &str) -> Result<i64> {
    required(row.int(column)?, column)
}

/// A text column that must be set.
pub(crate) fn text(row: &dyn Columns, column: &str) -> Result<String> {
    required(row.text(column)?, column)
}

/// A schedule as JSON for its column.
pub(crate) fn schedule_json(item: &SchedulerItem) -> Result<Value> {
    serde_json::to_value(&item.schedule)
        .map_err(|e| Error::store("the item's schedule cannot be written as JSON", e))
}

/// A misfire policy as JSON for its column.
pub(crate) fn misfire_json(item: &SchedulerItem) -> Result<Value> {
    serde_json::to_value(item.misfire)
        .map_err(|e| Error::store("the item's misfire policy cannot be written as JSON", e))
}

/// JSON as text, for a column or a parameter.
pub(crate) fn json_text(value: &Value) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::store("cannot write JSON", e))
}
