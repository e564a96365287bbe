//! How jobs, error records and scheduler items are written into Redis hashes, and read back.
//!
//! Times are integer milliseconds since the Unix epoch (UTC), JSON inputs and outputs the
//! exact text `serde_json` writes. Nothing read back is trusted: a missing or malformed field
//! is a store error naming the record and the field, never a panic.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use redis::Value;
use remote_core::{
    Error, ErrorRecord, ItemId, Job, JobId, JobStatus, Leader, LeaseToken, Misfire, RecordId,
    Result, SchedulerItem, StatusSet,
};
use serde::{Deserialize, Serialize};

/// Arguments of one script call, each one binary-safe string.
pub(crate) type Args = Vec<Vec<u8>>;

/// A time as whole milliseconds since the epoch, the form every time is stored in.
pub(crate) fn millis(t: DateTime<Utc>) -> String {
    t.timestamp_millis().to_string()
}

fn duration_millis(d: Duration) -> String {
    whole_millis(d).to_string()
}

fn whole_millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A sorted-set member that sorts byte-wise as `(queued_at, id)`: the time as 16 hex digits
/// of its order-preserving unsigned form (sign bit flipped), `:`, the 24 hex digits of the id.
fn queued_key(queued_at: DateTime<Utc>, id: &JobId) -> String {
    let ms = queued_at.timestamp_millis();
    format!("{:016x}:{id}", (ms as u64) ^ (1 << 63))
}

/// The member of a queued job in its name's ready set: the pull order, highest priority first,
/// then `(queued_at, id)` (R2, R26). This is the one place the order is built; the scripts only
/// compare these members byte-wise. The priority comes first as 4 hex digits of
/// `0x7fff - priority` (0000 for `i16::MAX`, ffff for `i16::MIN`), then `:` and the listing key.
pub(crate) fn pull_key(job: &Job) -> String {
    format!(
        "{}{}",
        priority_prefix(job.priority),
        queued_key(job.queued_at, &job.id)
    )
}

/// The start of the pull key of a job of `priority`.
pub(crate) fn priority_prefix(priority: i16) -> String {
    format!("{:04x}:", 0x7fff - i32::from(priority))
}

/// The priority, `queued_at` and id of the job whose pull key is `key` (the inverse of
/// [`pull_key`]); `None` for text of another form.
pub(crate) fn read_pull_key(key: &str) -> Option<(i16, DateTime<Utc>, JobId)> {
    let (priority, rest) = key.split_once(':')?;
    let (time, id) = rest.split_once(':')?;
    if priority.len() != 4 || time.len() != 16 {
        return None;
    }
    let priority = i16::try_from(0x7fff - i32::from_str_radix(priority, 16).ok()?).ok()?;
    let ms = (u64::from_str_radix(time, 16).ok()? ^ (1 << 63)) as i64;
    Some((
        priority,
        DateTime::from_timestamp_millis(ms)?,
        JobId::parse(id).ok()?,
    ))
}

/// The member of a job in the listing indexes: `(queued_at, id)`, the order of `list_jobs`.
pub(crate) fn list_key(job: &Job) -> String {
    queued_key(job.queued_at, &job.id)
}

fn json_text(value: &serde_json::Value, what: &str) -> Result<Vec<u8>> {
    serde_json::to_vec(value)
        .map_err(|e| Error::InvalidInput(format!("{what} cannot be written as JSON: {e}")))
}

/// What a job never changes after it is added and its ordering keys do not hold already (they
/// hold its id, `queued_at` and priority), stored as one JSON text in its hash's `spec` field:
/// a claim returns it from its script, one string per job, instead of the job's every field
/// read back in a second round trip. The input is nested as JSON, so its text comes back as it
/// went in; the scripts never parse this field. Defaults are left out, so that for a small
/// input the field stays within the 64 bytes up to which Redis keeps a hash as one compact
/// list (`hash-max-listpack-value`).
#[derive(Serialize)]
struct SpecOut<'a> {
    max_attempts: u32,
    retry_delay_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    unique_across: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace_context: Option<&'a str>,
    input: &'a serde_json::Value,
}

/// A job's `spec` as read back.
#[derive(Deserialize)]
struct Spec {
    max_attempts: u32,
    retry_delay_ms: u64,
    #[serde(default)]
    unique_across: Option<u8>,
    #[serde(default)]
    timeout_ms: Option<u64>,
    #[serde(default)]
    trace_context: Option<String>,
    input: serde_json::Value,
}

fn spec_text(job: &Job) -> Result<Vec<u8>> {
    serde_json::to_vec(&SpecOut {
        max_attempts: job.max_attempts,
        retry_delay_ms: whole_millis(job.retry_delay),
        unique_across: Some(job.unique_across.bits())
            .filter(|&bits| bits != StatusSet::LIVE.bits()),
        timeout_ms: job.timeout.map(whole_millis),
        trace_context: job.trace_context.as_deref(),
        input: &job.input,
    })
    .map_err(|e| Error::InvalidInput(format!("the input cannot be written as JSON: {e}")))
}

/// The stored fields of a job, absent options left out: the fields the scripts read or change
/// (its status, name, ordering keys, attempt, times, lease, output, unique key, snoozes once
/// it has any) and `spec`, the rest as one text. Redis keeps a hash this small as one flat
/// list that each field lookup scans from the front, so the fields that every claim and
/// outcome reads come first, and the fewer fields the shorter every scan.
pub(crate) fn job_fields(job: &Job) -> Result<Vec<(&'static str, Vec<u8>)>> {
    let mut fields = vec![
        ("status", job.status.as_str().into()),
        ("job_name", job.job_name.clone().into_bytes()),
        ("list_key", list_key(job).into_bytes()),
        ("attempt", job.attempt.to_string().into_bytes()),
        ("pull_key", pull_key(job).into_bytes()),
        ("spec", spec_text(job)?),
    ];
    if let Some(output) = &job.output {
        fields.push(("output", json_text(output, "the output")?));
    }
    let times = [
        ("not_before", job.not_before),
        ("picked_at", job.picked_at),
        ("completed_at", job.completed_at),
        ("lease_until", job.lease_until),
    ];
    for (name, time) in times {
        if let Some(t) = time {
            fields.push((name, millis(t).into_bytes()));
        }
    }
    if let Some(token) = job.lease_token {
        fields.push(("lease_token", token.as_i64().to_string().into_bytes()));
    }
    if job.snoozes > 0 {
        fields.push(("snoozes", job.snoozes.to_string().into_bytes()));
    }
    // The scripts read `unique_across` only for a job with a unique key.
    if let Some(key) = &job.unique_key {
        fields.push(("unique_key", key.clone().into_bytes()));
        fields.push((
            "unique_across",
            job.unique_across.bits().to_string().into_bytes(),
        ));
    }
    Ok(fields)
}

/// The output of a completed attempt as stored.
pub(crate) fn output_text(output: &serde_json::Value) -> Result<Vec<u8>> {
    json_text(output, "the output")
}

/// An error record as stored in a job's list of records.
#[derive(Serialize, Deserialize)]
struct StoredRecord {
    id: String,
    created: i64,
    attempt: u32,
    message: String,
}

/// The stored text of an error record.
pub(crate) fn record_text(record: &ErrorRecord) -> Result<Vec<u8>> {
    serde_json::to_vec(&StoredRecord {
        id: record.id.as_str().to_owned(),
        created: record.created.timestamp_millis(),
        attempt: record.attempt,
        message: record.message.clone(),
    })
    .map_err(|e| Error::InvalidInput(format!("the error record cannot be written: {e}")))
}

/// The stored fields of a scheduler item, absent options left out; the misfire policy is JSON
/// tagged by `policy` (R34).
pub(crate) fn item_fields(item: &SchedulerItem) -> Result<Vec<(&'static str, Vec<u8>)>> {
    let schedule = serde_json::to_vec(&item.schedule)
        .map_err(|e| Error::InvalidInput(format!("the schedule cannot be written: {e}")))?;
    let misfire = serde_json::to_vec(&item.misfire)
        .map_err(|e| Error::InvalidInput(format!("the misfire policy cannot be written: {e}")))?;
    let mut fields = vec![
        ("id", item.id.as_str().into()),
        ("job_name", item.job_name.clone().into_bytes()),
        ("input", json_text(&item.input, "the item's input")?),
        ("active", if item.active { "1" } else { "0" }.into()),
        (
            "lock_duration_ms",
            duration_millis(item.lock_duration).into_bytes(),
        ),
        ("schedule", schedule),
        ("misfire", misfire),
    ];
    if let Some(t) = item.next_call_time {
        fields.push(("next_call_time", millis(t).into_bytes()));
    }
    if let Some(t) = item.locked_until {
        fields.push(("locked_until", millis(t).into_bytes()));
    }
    Ok(fields)
}

// ---- reading replies ----

/// The elements of an array reply.
pub(crate) fn array(value: Value, what: &str) -> Result<Vec<Value>> {
    match value {
        Value::Array(values) | Value::Set(values) => Ok(values),
        Value::Nil => Ok(Vec::new()),
        other => Err(Error::store_msg(format!(
            "{what}: expected an array reply, got {other:?}"
        ))),
    }
}

/// The bytes of a string reply.
pub(crate) fn bulk(value: Value, what: &str) -> Result<Vec<u8>> {
    match value {
        Value::BulkString(bytes) => Ok(bytes),
        Value::SimpleString(text) => Ok(text.into_bytes()),
        Value::VerbatimString { text, .. } => Ok(text.into_bytes()),
        other => Err(Error::store_msg(format!(
            "{what}: expected a string reply, got {other:?}"
        ))),
    }
}

/// The text of a string reply.
pub(crate) fn text(value: Value, what: &str) -> Result<String> {
    String::from_utf8(bulk(value, what)?)
        .map_err(|e| Error::store(format!("{what}: the reply is not UTF-8"), e))
}

/// An integer reply.
pub(crate) fn int(value: &Value, what: &str) -> Result<i64> {
    match value {
        Value::Int(n) => Ok(*n),
        other => Err(Error::store_msg(format!(
            "{what}: expected an integer reply, got {other:?}"
        ))),
    }
}

/// The 1/0 answers of a batched script, as booleans.
pub(crate) fn flags(value: Value, expected: usize, what: &str) -> Result<Vec<bool>> {
    let answers = array(value, what)?
        .iter()
        .map(|v| int(v, what).map(|n| n == 1))
        .collect::<Result<Vec<bool>>>()?;
    if answers.len() != expected {
        return Err(Error::store_msg(format!(
            "{what}: {} answers for {expected} entries",
            answers.len()
        )));
    }
    Ok(answers)
}

/// The fields of one stored hash, read from a flat `HGETALL` reply.
struct Fields {
    kind: &'static str,
    map: HashMap<String, Vec<u8>>,
}

impl Fields {
    /// `None` for an empty reply (no such hash).
    fn read(value: Value, kind: &'static str) -> Result<Option<Self>> {
        let flat = array(value, kind)?;
        if flat.is_empty() {
            return Ok(None);
        }
        if flat.len() % 2 != 0 {
            return Err(Error::store_msg(format!(
                "a stored {kind} has an odd number of fields and values"
            )));
        }
        let mut map = HashMap::with_capacity(flat.len() / 2);
        let mut values = flat.into_iter();
        while let (Some(field), Some(value)) = (values.next(), values.next()) {
            map.insert(text(field, kind)?, bulk(value, kind)?);
        }
        Ok(Some(Self { kind, map }))
    }

    /// The hash as an error names it, its kind and id: built only for an error.
    fn what(&self) -> String {
        match self.map.get("id") {
            Some(id) => format!("{} {}", self.kind, String::from_utf8_lossy(id)),
            None => format!("a stored {}", self.kind),
        }
    }

    fn error(&self, field: &str, problem: &str) -> Error {
        Error::store_msg(format!("{}: field '{field}' {problem}", self.what()))
    }

    fn text(&self, field: &str) -> Result<Option<&str>> {
        self.map
            .get(field)
            .map(|bytes| std::str::from_utf8(bytes).map_err(|_| self.error(field, "is not UTF-8")))
            .transpose()
    }

    /// True for a field present and not blank: a lease that ended is blanked in the write
    /// that ends it rather than deleted.
    fn filled(&self, field: &str) -> bool {
        self.map.get(field).is_some_and(|v| !v.is_empty())
    }

    fn required(&self, field: &str) -> Result<&str> {
        self.text(field)?
            .ok_or_else(|| self.error(field, "is missing"))
    }

    fn number<T: FromStr>(&self, field: &str) -> Result<T> {
        let text = self.required(field)?;
        text.parse()
            .map_err(|_| self.error(field, &format!("holds '{text}', not a number in range")))
    }

    /// A number, `None` when the field is absent.
    fn optional_number<T: FromStr>(&self, field: &str) -> Result<Option<T>> {
        match self.map.contains_key(field) {
            true => self.number(field).map(Some),
            false => Ok(None),
        }
    }

    fn time(&self, field: &str) -> Result<Option<DateTime<Utc>>> {
        let Some(text) = self.text(field)? else {
            return Ok(None);
        };
        time(text)
            .map(Some)
            .ok_or_else(|| self.error(field, &format!("holds '{text}', not a time")))
    }

    fn json(&self, field: &str) -> Result<Option<serde_json::Value>> {
        self.map
            .get(field)
            .map(|bytes| {
                serde_json::from_slice(bytes).map_err(|e| {
                    Error::store(format!("{}: field '{field}' is not JSON", self.what()), e)
                })
            })
            .transpose()
    }

    fn id<T>(&self, parse: impl FnOnce(&str) -> Result<T>) -> Result<T> {
        let text = self.required("id")?;
        parse(text).map_err(|e| Error::store(format!("{}: malformed id", self.what()), e))
    }
}

/// What a job never changes after it is added: from its `spec`, or from fields of their own in
/// a hash written before layout 5.
struct Fixed {
    id: JobId,
    input: serde_json::Value,
    max_attempts: u32,
    retry_delay: Duration,
    queued_at: DateTime<Utc>,
    priority: i16,
    unique_across: StatusSet,
    timeout: Option<Duration>,
    trace_context: Option<String>,
}

impl Fixed {
    /// From a stored `spec` and what the job's pull key holds ([`read_pull_key`]); `whose`
    /// names the record for an error.
    fn parse(
        spec: &[u8],
        (priority, queued_at, id): (i16, DateTime<Utc>, JobId),
        whose: impl Fn() -> String,
    ) -> Result<Self> {
        let spec: Spec = serde_json::from_slice(spec).map_err(|e| {
            Error::store_msg(format!(
                "{}: field 'spec' is not a job's spec: {e}",
                whose()
            ))
        })?;
        Ok(Self {
            id,
            input: spec.input,
            max_attempts: spec.max_attempts,
            retry_delay: Duration::from_millis(spec.retry_delay_ms),
            queued_at,
            priority,
            unique_across: spec
                .unique_across
                .map_or(StatusSet::LIVE, StatusSet::from_bits),
            timeout: spec.timeout_ms.map(Duration::from_millis),
            trace_context: spec.trace_context,
        })
    }

    /// From the hash's own fields, as layouts 1 to 4 wrote them.
    fn of_fields(f: &Fields) -> Result<Self> {
        Ok(Self {
            id: f.id(JobId::parse)?,
            input: f
                .json("input")?
                .ok_or_else(|| f.error("input", "is missing"))?,
            max_attempts: f.number("max_attempts")?,
            retry_delay: Duration::from_millis(f.number("retry_delay_ms")?),
            queued_at: f
                .time("queued_at")?
                .ok_or_else(|| f.error("queued_at", "is missing"))?,
            // Hashes written by layout 1 have none of these fields: the defaults of a job
            // added without them.
            priority: f.optional_number("priority")?.unwrap_or(0),
            unique_across: f
                .optional_number("unique_across")?
                .map_or(StatusSet::LIVE, StatusSet::from_bits),
            timeout: f.optional_number("timeout")?.map(Duration::from_millis),
            trace_context: f.text("trace_context")?.map(str::to_owned),
        })
    }
}

/// A job from its `HGETALL` reply; `None` when the reply is empty.
pub(crate) fn job(value: Value) -> Result<Option<Job>> {
    let Some(f) = Fields::read(value, "job")? else {
        return Ok(None);
    };
    let fixed = match f.map.get("spec") {
        Some(spec) => {
            let pull_key = f.required("pull_key")?;
            let keyed = read_pull_key(pull_key)
                .ok_or_else(|| f.error("pull_key", &format!("holds '{pull_key}'")))?;
            Fixed::parse(spec, keyed, || f.what())?
        }
        None => Fixed::of_fields(&f)?,
    };
    let status = f.required("status")?;
    Ok(Some(Job {
        id: fixed.id,
        job_name: f.required("job_name")?.to_owned(),
        input: fixed.input,
        status: JobStatus::from_str(status)
            .map_err(|_| f.error("status", &format!("holds '{status}', not a status")))?,
        output: f.json("output")?,
        attempt: f.number("attempt")?,
        max_attempts: fixed.max_attempts,
        retry_delay: fixed.retry_delay,
        queued_at: fixed.queued_at,
        not_before: f.time("not_before")?,
        picked_at: f.time("picked_at")?,
        completed_at: f.time("completed_at")?,
        lease_until: match f.filled("lease_until") {
            true => f.time("lease_until")?,
            false => None,
        },
        lease_token: match f.filled("lease_token") {
            true => Some(LeaseToken::from_i64(f.number("lease_token")?)),
            false => None,
        },
        priority: fixed.priority,
        unique_key: f.text("unique_key")?.map(str::to_owned),
        unique_across: fixed.unique_across,
        timeout: fixed.timeout,
        snoozes: f.optional_number("snoozes")?.unwrap_or(0),
        trace_context: fixed.trace_context,
    }))
}

/// One job a claim took, as its script answered it.
#[allow(
    clippy::large_enum_variant,
    reason = "nearly every entry is a job: boxing would only add an allocation to each"
)]
pub(crate) enum Claimed {
    /// Read whole from the reply.
    Job(Job),
    /// A job whose hash has no `spec` (written before layout 5), by id: the caller reads its
    /// hash back.
    Unread(JobId),
}

/// The jobs a claim took, in pull order, from its script's reply: seven values per job (its
/// pull key, name, `spec`, new attempt, `not_before`, snoozes and unique key, absent ones nil);
/// the rest is what the claim wrote, `now`, `lease_until` and `token` (R4).
pub(crate) fn claimed(
    value: Value,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    token: LeaseToken,
    what: &str,
) -> Result<Vec<Claimed>> {
    let values = array(value, what)?;
    if values.len() % 7 != 0 {
        return Err(Error::store_msg(format!(
            "{what}: {} values, not seven per job",
            values.len()
        )));
    }
    let stored = |t: DateTime<Utc>| DateTime::from_timestamp_millis(t.timestamp_millis());
    let optional = |value: Value| match value {
        Value::Nil => Ok(None),
        value => text(value, what).map(Some),
    };
    let mut jobs = Vec::with_capacity(values.len() / 7);
    let mut values = values.into_iter();
    while let Some(pull_key) = values.next() {
        let pull_key = text(pull_key, what)?;
        let Some(keyed) = read_pull_key(&pull_key) else {
            return Err(Error::store_msg(format!(
                "{what}: '{pull_key}' is not a pull key"
            )));
        };
        let id = keyed.2.clone();
        let mut next = || values.next().unwrap_or(Value::Nil);
        let (name, spec, attempt, not_before, snoozes, unique_key) =
            (next(), next(), next(), next(), next(), next());
        let Some(spec) = optional(spec)? else {
            jobs.push(Claimed::Unread(id));
            continue;
        };
        let fixed = Fixed::parse(spec.as_bytes(), keyed, || format!("job {id}"))?;
        let number = |value: Value, field: &str| -> Result<Option<u32>> {
            optional(value)?
                .map(|t| {
                    t.parse().map_err(|_| {
                        Error::store_msg(format!("{what}: job {id} has {field} '{t}'"))
                    })
                })
                .transpose()
        };
        let not_before = match optional(not_before)? {
            Some(t) => Some(time(&t).ok_or_else(|| {
                Error::store_msg(format!("{what}: job {id} has not_before '{t}'"))
            })?),
            None => None,
        };
        jobs.push(Claimed::Job(Job {
            id: fixed.id,
            job_name: text(name, what)?,
            input: fixed.input,
            status: JobStatus::Processing,
            output: None,
            attempt: number(attempt, "attempt")?.ok_or_else(|| {
                Error::store_msg(format!("{what}: job {id} came back without an attempt"))
            })?,
            max_attempts: fixed.max_attempts,
            retry_delay: fixed.retry_delay,
            queued_at: fixed.queued_at,
            not_before,
            picked_at: stored(now),
            completed_at: None,
            lease_until: stored(lease_until),
            lease_token: Some(token),
            priority: fixed.priority,
            unique_key: optional(unique_key)?,
            unique_across: fixed.unique_across,
            timeout: fixed.timeout,
            snoozes: number(snoozes, "snoozes")?.unwrap_or(0),
            trace_context: fixed.trace_context,
        }));
    }
    Ok(jobs)
}

/// A time as stored (milliseconds since the epoch), `None` when it is not one.
pub(crate) fn time(text: &str) -> Option<DateTime<Utc>> {
    text.parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_millis)
}

/// A maintenance lease named `name` from the `HGETALL` reply of its hash.
pub(crate) fn leader(name: String, value: Value) -> Result<Leader> {
    let f = Fields::read(value, "maintenance lease")?
        .ok_or_else(|| Error::store_msg(format!("maintenance lease '{name}' has no fields")))?;
    Ok(Leader {
        holder: f.required("holder")?.to_owned(),
        until: f
            .time("until")?
            .ok_or_else(|| f.error("until", "is missing"))?,
        note: f.json("note")?.unwrap_or(serde_json::Value::Null),
        name,
    })
}

/// Jobs from an array of `HGETALL` replies.
pub(crate) fn jobs(value: Value, what: &str) -> Result<Vec<Job>> {
    array(value, what)?
        .into_iter()
        .filter_map(|v| job(v).transpose())
        .collect()
}

/// An error record from its stored text.
pub(crate) fn record(bytes: &[u8], job: &JobId) -> Result<ErrorRecord> {
    let stored: StoredRecord = serde_json::from_slice(bytes)
        .map_err(|e| Error::store(format!("job {job}: an error record is unreadable"), e))?;
    Ok(ErrorRecord {
        id: RecordId::parse(&stored.id)
            .map_err(|e| Error::store(format!("job {job}: an error record's id"), e))?,
        created: DateTime::from_timestamp_millis(stored.created).ok_or_else(|| {
            Error::store_msg(format!(
                "job {job}: an error record holds the impossible time {}",
                stored.created
            ))
        })?,
        attempt: stored.attempt,
        message: stored.message,
    })
}

/// A scheduler item from its `HGETALL` reply; `None` when the reply is empty. An item without
/// a misfire policy, written before it, fires once.
pub(crate) fn item(value: Value) -> Result<Option<SchedulerItem>> {
    let Some(f) = Fields::read(value, "scheduler item")? else {
        return Ok(None);
    };
    let schedule = f.required("schedule")?;
    let misfire = match f.text("misfire")? {
        None => Misfire::default(),
        Some(text) => serde_json::from_str(text)
            .map_err(|e| Error::store(format!("{}: field 'misfire' is unreadable", f.what()), e))?,
    };
    Ok(Some(SchedulerItem {
        id: f.id(ItemId::parse)?,
        job_name: f.required("job_name")?.to_owned(),
        input: f
            .json("input")?
            .ok_or_else(|| f.error("input", "is missing"))?,
        active: match f.required("active")? {
            "1" => true,
            "0" => false,
            other => return Err(f.error("active", &format!("holds '{other}', not 1 or 0"))),
        },
        next_call_time: f.time("next_call_time")?,
        locked_until: f.time("locked_until")?,
        lock_duration: Duration::from_millis(f.number("lock_duration_ms")?),
        schedule: serde_json::from_str(schedule).map_err(|e| {
            Error::store(format!("{}: field 'schedule' is unreadable", f.what()), e)
        })?,
        misfire,
    }))
}

/// Scheduler items from an array of `HGETALL` replies.
pub(crate) fn items(value: Value, what: &str) -> Result<Vec<SchedulerItem>> {
    array(value, what)?
        .into_iter()
        .filter_map(|v| item(v).transpose())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_keys_sort_bytewise_as_queued_at_then_id() {
        let times = [
            DateTime::<Utc>::MIN_UTC,
            DateTime::from_timestamp_millis(-86_400_000).unwrap(),
            DateTime::from_timestamp_millis(-1).unwrap(),
            DateTime::from_timestamp_millis(0).unwrap(),
            DateTime::from_timestamp_millis(1).unwrap(),
            DateTime::from_timestamp_millis(1_767_225_600_000).unwrap(),
            DateTime::<Utc>::MAX_UTC,
        ];
        let ids = [
            JobId::parse("000000000000000000000000").unwrap(),
            JobId::parse("65a1b2c3d4e5f60718293a4b").unwrap(),
            JobId::parse("ffffffffffffffffffffffff").unwrap(),
        ];
        let mut expected = Vec::new();
        for t in times {
            for id in &ids {
                expected.push(queued_key(t, id));
            }
        }
        let mut sorted = expected.clone();
        sorted.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        assert_eq!(sorted, expected);
        assert!(expected.iter().all(|k| k.len() == 41));
    }

    #[test]
    fn pull_keys_sort_bytewise_by_priority_then_queued_at_then_id() {
        let at = |ms: i64| DateTime::from_timestamp_millis(ms).unwrap();
        let keyed = |priority: i16, ms: i64, id: &str| Job {
            priority,
            id: JobId::parse(id).unwrap(),
            ..Job::queued("echo", serde_json::Value::Null, 1, Duration::ZERO, at(ms))
        };
        let (low, high) = ("000000000000000000000000", "ffffffffffffffffffffffff");
        let expected = [
            keyed(i16::MAX, 5, low),
            keyed(1, -5, high),
            keyed(1, 0, low),
            keyed(0, -1, low),
            keyed(0, 7, low),
            keyed(0, 7, high),
            keyed(-1, -9, low),
            keyed(i16::MIN, 0, low),
        ];
        let keys: Vec<String> = expected.iter().map(pull_key).collect();
        let mut sorted = keys.clone();
        sorted.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        assert_eq!(sorted, keys);
        assert!(keys.iter().all(|k| k.len() == 46), "{keys:?}");
        for job in &expected {
            assert_eq!(pull_key(job).as_bytes()[4], b':');
            assert!(pull_key(job).ends_with(job.id.as_str()));
            assert_eq!(
                read_pull_key(&pull_key(job)),
                Some((job.priority, job.queued_at, job.id.clone())),
                "a pull key reads back as what it was built from"
            );
        }
        for other in [
            "",
            "7fff",
            "7fff:0000000000000005",
            "7fff:000000000000005:000000000000000000000000",
            "7ffg:8000000000000005:000000000000000000000000",
            "7fff:8000000000000005:00000000000000000000000z",
            "ffff0:800000000000005:000000000000000000000000",
        ] {
            assert_eq!(read_pull_key(other), None, "{other:?}");
        }
        // The upgrade of layout 1 prefixes its keys, those of priority 0, with this.
        let old = keyed(0, 7, high);
        assert_eq!(
            pull_key(&old),
            format!("{}{}", priority_prefix(0), list_key(&old))
        );
    }

    #[test]
    fn the_fields_every_claim_and_outcome_reads_are_written_first() {
        let job = Job::queued(
            "echo",
            serde_json::json!({"n": 1}),
            3,
            Duration::ZERO,
            Utc::now(),
        );
        let names: Vec<&str> = job_fields(&job)
            .unwrap()
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert_eq!(
            names[..5],
            ["status", "job_name", "list_key", "attempt", "pull_key"]
        );
        assert_eq!(names.len(), 6, "a queued job's hash: {names:?}");
    }

    /// A job with small input and no options keeps every value within the 64 bytes up to
    /// which Redis keeps a hash as one compact list; every option reads back from `spec`.
    #[test]
    fn a_small_job_has_small_fields_and_its_spec_reads_back() {
        let job = Job::queued(
            "echo",
            serde_json::json!({"n": 12345}),
            25,
            Duration::from_secs(3_600),
            Utc::now(),
        );
        for (name, value) in job_fields(&job).unwrap() {
            assert!(value.len() <= 64, "{name}: {} bytes", value.len());
        }
        let full = Job {
            status: JobStatus::Completed,
            output: Some(serde_json::json!([1, "two"])),
            attempt: 2,
            priority: -300,
            unique_key: Some("k".into()),
            unique_across: StatusSet::from_bits(4 | 8),
            timeout: Some(Duration::from_millis(1_234)),
            snoozes: 3,
            trace_context: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()),
            not_before: Some(job.queued_at),
            picked_at: Some(job.queued_at),
            completed_at: Some(job.queued_at),
            lease_until: None,
            lease_token: None,
            ..job.clone()
        };
        for job in [job, full] {
            let flat = job_fields(&job)
                .unwrap()
                .into_iter()
                .flat_map(|(name, value)| {
                    [Value::BulkString(name.into()), Value::BulkString(value)]
                })
                .collect();
            let ms = |t: DateTime<Utc>| DateTime::from_timestamp_millis(t.timestamp_millis());
            let stored = Job {
                queued_at: ms(job.queued_at).unwrap(),
                not_before: job.not_before.and_then(ms),
                picked_at: job.picked_at.and_then(ms),
                completed_at: job.completed_at.and_then(ms),
                ..job.clone()
            };
            assert_eq!(super::job(Value::Array(flat)).unwrap(), Some(stored));
        }
    }

    #[test]
    fn jobs_of_layout_1_read_back_with_the_defaults() {
        let reply = Value::Array(
            [
                ("id", "65a1b2c3d4e5f60718293a4b"),
                ("job_name", "echo"),
                ("input", "{}"),
                ("status", "queued"),
                ("attempt", "0"),
                ("max_attempts", "3"),
                ("retry_delay_ms", "10000"),
                ("queued_at", "1767225600000"),
            ]
            .iter()
            .flat_map(|(k, v)| {
                [
                    Value::BulkString(k.as_bytes().to_vec()),
                    Value::BulkString(v.as_bytes().to_vec()),
                ]
            })
            .collect(),
        );
        let job = job(reply).unwrap().unwrap();
        assert_eq!(
            (job.priority, job.unique_key, job.unique_across),
            (0, None, StatusSet::LIVE)
        );
        assert_eq!((job.timeout, job.snoozes), (None, 0));
    }

    #[test]
    fn items_round_trip_and_old_ones_fire_once() {
        let reply = |fields: &[(&str, Vec<u8>)]| {
            Value::Array(
                fields
                    .iter()
                    .flat_map(|(k, v)| {
                        [
                            Value::BulkString(k.as_bytes().to_vec()),
                            Value::BulkString(v.clone()),
                        ]
                    })
                    .collect(),
            )
        };
        for misfire in [
            Misfire::FireOnce,
            Misfire::Skip,
            Misfire::FireEach { max: u32::MAX },
        ] {
            let item = SchedulerItem::delay("echo", 60)
                .with_input(serde_json::json!({"a": 1}))
                .with_misfire(misfire);
            let fields = item_fields(&item).unwrap();
            assert_eq!(super::item(reply(&fields)).unwrap(), Some(item));
        }
        let item = SchedulerItem::delay("echo", 60).with_misfire(Misfire::Skip);
        let mut fields = item_fields(&item).unwrap();
        fields.retain(|(k, _)| *k != "misfire");
        let old = super::item(reply(&fields)).unwrap().unwrap();
        assert_eq!(old.misfire, Misfire::FireOnce);
        for bad in [
            "skip",
            "{\"policy\": \"sometimes\"}",
            "{\"policy\": \"fire_each\"}",
        ] {
            let mut broken = fields.clone();
            broken.push(("misfire", bad.as_bytes().to_vec()));
            let err = super::item(reply(&broken)).unwrap_err();
            assert!(err.is_store(), "{bad}: {err}");
        }
    }

    #[test]
    fn malformed_fields_are_store_errors() {
        let reply = |pairs: &[(&str, &str)]| {
            Value::Array(
                pairs
                    .iter()
                    .flat_map(|(k, v)| {
                        [
                            Value::BulkString(k.as_bytes().to_vec()),
                            Value::BulkString(v.as_bytes().to_vec()),
                        ]
                    })
                    .collect(),
            )
        };
        let good = [
            ("id", "65a1b2c3d4e5f60718293a4b"),
            ("job_name", "echo"),
            ("input", "{\"a\":1}"),
            ("status", "queued"),
            ("attempt", "0"),
            ("max_attempts", "3"),
            ("retry_delay_ms", "10000"),
            ("queued_at", "1767225600000"),
        ];
        assert!(job(reply(&good)).unwrap().is_some());
        assert!(job(Value::Array(Vec::new())).unwrap().is_none());
        for (field, bad) in [
            ("status", "lost"),
            ("attempt", "-1"),
            ("input", "{"),
            ("queued_at", "soon"),
            ("queued_at", "99999999999999999"),
            ("id", "nothex"),
            ("priority", "40000"),
            ("unique_across", "-1"),
            ("timeout", "soon"),
            ("snoozes", "-2"),
        ] {
            let mut pairs: Vec<(&str, &str)> =
                good.iter().filter(|(k, _)| *k != field).copied().collect();
            pairs.push((field, bad));
            let err = job(reply(&pairs)).unwrap_err();
            assert!(err.is_store(), "{field}={bad}: {err}");
        }
        let missing: Vec<(&str, &str)> = good
            .iter()
            .copied()
            .filter(|(k, _)| *k != "input")
            .collect();
        assert!(job(reply(&missing)).unwrap_err().is_store());
        assert!(job(Value::Array(vec![Value::BulkString(b"id".to_vec())]))
            .unwrap_err()
            .is_store());
        assert!(job(Value::Int(3)).unwrap_err().is_store());
    }
}
