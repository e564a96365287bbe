//! Row decoding shared by both dialects: each dialect reads its column types into plain values,
//! and the checks and conversions into the core's types happen here, once.
//!
//! Nothing read from the database is trusted: malformed ids, unknown statuses, negative
//! counters or unreadable JSON become store errors, never panics.

use std::time::Duration;

use chrono::{DateTime, Utc};
use remote_core::{
    Error, ErrorRecord, ItemId, Job, JobId, JobStatus, LeaseToken, RecordId, Result, SchedulerItem,
    StatusCounts,
};
use serde_json::Value;

/// Typed column access of one row, implemented per dialect.
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
    fn free_text(&self, column: &str) -> Result<Option<String>> {
        self.text(column)
    }
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

/// Milliseconds since the Unix epoch as a time (the SQLite encoding).
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
pub(crate) fn from_epoch_millis(ms: i64, column: &str) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| Error::store_msg(format!("column {column} holds an impossible time {ms}")))
}

/// The job in `row` (all columns of the jobs table).
pub(crate) fn job(row: &impl Columns) -> Result<Job> {
    Ok(Job {
        id: wrap_id(JobId::parse(&required(row.text("id")?, "id")?), "id")?,
        job_name: required(row.text("job_name")?, "job_name")?,
        input: required(row.json("input")?, "input")?,
        status: status(&required(row.text("status")?, "status")?)?,
        output: row.json("output")?,
        retry_counter: count(
            required(row.int("retry_counter")?, "retry_counter")?,
            "retry_counter",
        )?,
        max_retries: count(
            required(row.int("max_retries")?, "max_retries")?,
            "max_retries",
        )?,
        retry_delay: duration(
            required(row.int("retry_delay_ms")?, "retry_delay_ms")?,
            "retry_delay_ms",
        )?,
        queued_at: required(row.time("queued_at")?, "queued_at")?,
        retry_time: row.time("retry_time")?,
        picked_at: row.time("picked_at")?,
        completed_at: row.time("completed_at")?,
        lease_until: row.time("lease_until")?,
        lease_token: row.int("lease_token")?.map(LeaseToken),
    })
}

/// The error record in `row` (`id`, `created`, `attempt`, `message`), `None` when `id` is NULL
/// (a job without records, read through an outer join).
pub(crate) fn record(row: &impl Columns) -> Result<Option<ErrorRecord>> {
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
pub(crate) fn item(row: &impl Columns) -> Result<SchedulerItem> {
    let schedule = required(row.json("schedule")?, "schedule")?;
    Ok(SchedulerItem {
        id: wrap_id(ItemId::parse(&required(row.text("id")?, "id")?), "id")?,
        job_name: required(row.text("job_name")?, "job_name")?,
        input: required(row.json("input")?, "input")?,
        active: required(row.boolean("active")?, "active")?,
        next_call_time: row.time("next_call_time")?,
        retry_time: row.time("retry_time")?,
        retry_delay: duration(
            required(row.int("retry_delay_ms")?, "retry_delay_ms")?,
            "retry_delay_ms",
        )?,
        schedule: serde_json::from_value(schedule)
            .map_err(|e| Error::store("column schedule holds no valid schedule", e))?,
    })
}

/// Counts per status from `(status, n)` rows.
pub(crate) fn counts(rows: &[impl Columns]) -> Result<StatusCounts> {
    let mut counts = StatusCounts::new();
    for row in rows {
        let status = status(&required(row.text("status")?, "status")?)?;
        let n = required(row.int("n")?, "n")?;
        let n = u64::try_from(n).map_err(|e| Error::store("negative count", e))?;
        *counts.entry(status).or_insert(0) += n;
    }
    Ok(counts)
}

/// Sorts claimed jobs into pull order (R2): `RETURNING` gives rows in no particular order.
pub(crate) fn pull_order(jobs: &mut [Job]) {
    jobs.sort_by(|a, b| (a.queued_at, &a.id).cmp(&(b.queued_at, &b.id)));
}

/// A schedule as JSON for its column.
pub(crate) fn schedule_json(item: &SchedulerItem) -> Result<Value> {
    serde_json::to_value(&item.schedule)
        .map_err(|e| Error::store("the item's schedule cannot be written as JSON", e))
}

/// JSON as text, for a column or a parameter.
pub(crate) fn json_text(value: &Value) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::store("cannot write JSON", e))
}

/// Maps a driver error to a store error saying what the store was doing.
pub(crate) fn db(context: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |e| Error::store(context, e)
}
