//! BSON mapping of jobs, error records and scheduler items.
//!
//! Ids are ObjectIds, times BSON dates (milliseconds), durations `i64` milliseconds. JSON
//! inputs and outputs are stored as JSON text, so keys like `$where`, `a.b` or `""` are data
//! the server never reads as operators or paths.

use std::time::Duration;

use chrono::{DateTime, Utc};
use mongodb::bson::{self, doc, oid::ObjectId, Bson, Document};
use remote_core::{
    Error, ErrorRecord, ItemId, Job, JobId, JobStatus, Leader, LeaseToken, Misfire, PausedName,
    RecordId, Result, Schedule, SchedulerItem, StatusSet,
};

use crate::unique::HOLDER_FIELD;
use serde_json::Value;

/// The ObjectId written for a core id (24 hex digits by construction).
pub(crate) fn object_id(hex: &str) -> Result<ObjectId> {
    ObjectId::parse_str(hex).map_err(|e| Error::store(format!("id '{hex}' is no ObjectId"), e))
}

/// A time as a BSON date (milliseconds).
pub(crate) fn date(t: DateTime<Utc>) -> Bson {
    Bson::DateTime(bson::DateTime::from_millis(t.timestamp_millis()))
}

/// The condition on an optional time field (`not_before`, `locked_until`, `lease_until`) that
/// holds at `now`: null or missing, or not after `now`.
///
/// One `$not: {$gt}` rather than an `$or` of null and `$lte`, so that a planner never splits
/// the query into branches: the condition stays a filter on the documents the index yields.
pub(crate) fn passed(now: DateTime<Utc>) -> Document {
    doc! { "$not": { "$gt": date(now) } }
}

/// An optional time as a BSON date or null.
pub(crate) fn opt_date(t: Option<DateTime<Utc>>) -> Bson {
    t.map_or(Bson::Null, date)
}

/// JSON as the text stored in the database.
pub(crate) fn json_text(value: &Value) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::store("encoding JSON", e))
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The document stored for a new job, with an empty error list; it carries the unique-key
/// guard `unique_holder` when the job holds its key in its status (R27).
pub(crate) fn job_document(job: &Job) -> Result<Document> {
    let mut doc = doc! {
        "_id": object_id(job.id.as_str())?,
        "job_name": &job.job_name,
        "input": json_text(&job.input)?,
        "status": job.status.as_str(),
        "output": job.output.as_ref().map(json_text).transpose()?,
        "attempt": i64::from(job.attempt),
        "max_attempts": i64::from(job.max_attempts),
        "retry_delay": millis(job.retry_delay),
        "queued_at": date(job.queued_at),
        "not_before": opt_date(job.not_before),
        "picked_at": opt_date(job.picked_at),
        "completed_at": opt_date(job.completed_at),
        "lease_until": opt_date(job.lease_until),
        "lease_token": job.lease_token.map(LeaseToken::as_i64),
        "priority": i32::from(job.priority),
        "unique_key": job.unique_key.as_deref(),
        "unique_across": i32::from(job.unique_across.bits()),
        "timeout": job.timeout.map(millis),
        "snoozes": i64::from(job.snoozes),
        "trace_context": job.trace_context.as_deref(),
        "errors": [],
    };
    if let Some(key) = held_key(job) {
        doc.insert(HOLDER_FIELD, key);
    }
    Ok(doc)
}

/// The unique key `job` holds in its own status, if any (R27).
pub(crate) fn held_key(job: &Job) -> Option<&str> {
    job.unique_key
        .as_deref()
        .filter(|_| job.unique_across.contains(job.status))
}

/// A job read back; a missing or mistyped field is a store error.
pub(crate) fn job_from_document(doc: &Document) -> Result<Job> {
    let f = Fields::new(doc, "job");
    let status = f.str("status")?;
    Ok(Job {
        id: JobId::parse(&f.id()?).map_err(|e| f.invalid("_id", e))?,
        job_name: f.str("job_name")?.to_owned(),
        input: f.json("input")?,
        status: status.parse().map_err(|e| f.invalid("status", e))?,
        output: f.opt_json("output")?,
        attempt: f.int("attempt")?,
        max_attempts: f.int("max_attempts")?,
        retry_delay: f.duration("retry_delay")?,
        queued_at: f.date("queued_at")?,
        not_before: f.opt_date("not_before")?,
        picked_at: f.opt_date("picked_at")?,
        completed_at: f.opt_date("completed_at")?,
        lease_until: f.opt_date("lease_until")?,
        lease_token: f.opt_i64("lease_token")?.map(LeaseToken::from_i64),
        priority: f.int("priority")?,
        unique_key: f.opt_str("unique_key")?.map(str::to_owned),
        unique_across: StatusSet::from_bits(f.int("unique_across")?),
        timeout: f.opt_duration("timeout")?,
        snoozes: f.int("snoozes")?,
        // Documents written before trace contexts have no such field: none.
        trace_context: f.opt_str("trace_context")?.map(str::to_owned),
    })
}

/// The status of a job document.
pub(crate) fn status_from_document(doc: &Document) -> Result<JobStatus> {
    let f = Fields::new(doc, "job");
    f.str("status")?.parse().map_err(|e| f.invalid("status", e))
}

/// An error record as an element of a job's `errors` array.
pub(crate) fn record_document(record: &ErrorRecord) -> Result<Document> {
    Ok(doc! {
        "_id": object_id(record.id.as_str())?,
        "created": date(record.created),
        "attempt": i64::from(record.attempt),
        "message": &record.message,
    })
}

/// The `errors` array of a job document, in the order the records were pushed.
pub(crate) fn records_from_document(doc: &Document) -> Result<Vec<ErrorRecord>> {
    let f = Fields::new(doc, "job");
    let records = match doc.get("errors") {
        None | Some(Bson::Null) => return Ok(Vec::new()),
        Some(Bson::Array(records)) => records,
        Some(other) => return Err(f.mistyped("errors", "an array", other)),
    };
    records
        .iter()
        .map(|record| match record {
            Bson::Document(record) => {
                record_from_document(record).map_err(|e| f.invalid("errors", e))
            }
            other => Err(f.mistyped("errors", "an array of documents", other)),
        })
        .collect()
}

fn record_from_document(doc: &Document) -> Result<ErrorRecord> {
    let f = Fields::new(doc, "error record");
    Ok(ErrorRecord {
        id: RecordId::parse(&f.id()?).map_err(|e| f.invalid("_id", e))?,
        created: f.date("created")?,
        attempt: f.int("attempt")?,
        message: f.str("message")?.to_owned(),
    })
}

/// The document stored for a scheduler item; the rule is a subdocument tagged by `kind`, the
/// misfire policy one tagged by `policy` (R34).
pub(crate) fn item_document(item: &SchedulerItem) -> Result<Document> {
    let schedule = bson::to_document(&item.schedule)
        .map_err(|e| Error::store(format!("encoding the schedule of item {}", item.id), e))?;
    let misfire = bson::to_document(&item.misfire).map_err(|e| {
        Error::store(
            format!("encoding the misfire policy of item {}", item.id),
            e,
        )
    })?;
    Ok(doc! {
        "_id": object_id(item.id.as_str())?,
        "job_name": &item.job_name,
        "input": json_text(&item.input)?,
        "active": item.active,
        "next_call_time": opt_date(item.next_call_time),
        "locked_until": opt_date(item.locked_until),
        "lock_duration": millis(item.lock_duration),
        "schedule": schedule,
        "misfire": misfire,
    })
}

/// A scheduler item read back; a missing or mistyped field is a store error, except a missing
/// misfire policy: items written before it (or by a process of that release) fire once.
pub(crate) fn item_from_document(doc: &Document) -> Result<SchedulerItem> {
    let f = Fields::new(doc, "scheduler item");
    let schedule = match doc.get("schedule") {
        Some(Bson::Document(schedule)) => bson::from_document::<Schedule>(schedule.clone())
            .map_err(|e| f.invalid("schedule", e))?,
        other => return Err(f.mistyped("schedule", "a document", other.unwrap_or(&Bson::Null))),
    };
    let misfire = match doc.get("misfire") {
        None => Misfire::default(),
        Some(Bson::Document(misfire)) => {
            bson::from_document::<Misfire>(misfire.clone()).map_err(|e| f.invalid("misfire", e))?
        }
        Some(other) => return Err(f.mistyped("misfire", "a document", other)),
    };
    Ok(SchedulerItem {
        id: ItemId::parse(&f.id()?).map_err(|e| f.invalid("_id", e))?,
        job_name: f.str("job_name")?.to_owned(),
        input: f.json("input")?,
        active: f.bool("active")?,
        next_call_time: f.opt_date("next_call_time")?,
        locked_until: f.opt_date("locked_until")?,
        lock_duration: f.duration("lock_duration")?,
        schedule,
        misfire,
    })
}

/// A paused name read back (`{_id: name, since}`).
pub(crate) fn paused_from_document(doc: &Document) -> Result<PausedName> {
    let f = Fields::new(doc, "paused name");
    Ok(PausedName {
        name: f.str("_id")?.to_owned(),
        since: f.date("since")?,
    })
}

/// A maintenance lease read back (`{_id: name, holder, until, note}`, the note JSON text or
/// null).
pub(crate) fn leader_from_document(doc: &Document) -> Result<Leader> {
    let f = Fields::new(doc, "maintenance lease");
    Ok(Leader {
        name: f.str("_id")?.to_owned(),
        holder: f.str("holder")?.to_owned(),
        until: f.date("until")?,
        note: f.opt_json("note")?.unwrap_or(Value::Null),
    })
}

/// Typed reads of one document's fields that name the document and field on failure.
struct Fields<'a> {
    doc: &'a Document,
    what: &'static str,
}

impl<'a> Fields<'a> {
    fn new(doc: &'a Document, what: &'static str) -> Self {
        Self { doc, what }
    }

    fn label(&self) -> String {
        match self.doc.get("_id") {
            Some(Bson::ObjectId(id)) => format!("{} {}", self.what, id.to_hex()),
            _ => self.what.to_owned(),
        }
    }

    fn invalid(
        &self,
        key: &str,
        source: impl Into<remote_core::error::BoxError>,
    ) -> remote_core::Error {
        Error::store(
            format!("{}: field '{key}' cannot be read", self.label()),
            source,
        )
    }

    fn mistyped(&self, key: &str, expected: &str, found: &Bson) -> remote_core::Error {
        Error::store_msg(format!(
            "{}: field '{key}' should be {expected}, found {:?}",
            self.label(),
            found.element_type()
        ))
    }

    fn get(&self, key: &str) -> &'a Bson {
        self.doc.get(key).unwrap_or(&Bson::Null)
    }

    fn id(&self) -> Result<String> {
        match self.get("_id") {
            Bson::ObjectId(id) => Ok(id.to_hex()),
            other => Err(self.mistyped("_id", "an ObjectId", other)),
        }
    }

    fn str(&self, key: &str) -> Result<&'a str> {
        match self.get(key) {
            Bson::String(s) => Ok(s),
            other => Err(self.mistyped(key, "a string", other)),
        }
    }

    fn bool(&self, key: &str) -> Result<bool> {
        match self.get(key) {
            Bson::Boolean(b) => Ok(*b),
            other => Err(self.mistyped(key, "a boolean", other)),
        }
    }

    fn opt_i64(&self, key: &str) -> Result<Option<i64>> {
        match self.get(key) {
            Bson::Null => Ok(None),
            Bson::Int64(n) => Ok(Some(*n)),
            Bson::Int32(n) => Ok(Some(i64::from(*n))),
            other => Err(self.mistyped(key, "an integer", other)),
        }
    }

    fn i64(&self, key: &str) -> Result<i64> {
        self.opt_i64(key)?
            .ok_or_else(|| self.mistyped(key, "an integer", &Bson::Null))
    }

    fn opt_str(&self, key: &str) -> Result<Option<&'a str>> {
        match self.get(key) {
            Bson::Null => Ok(None),
            Bson::String(s) => Ok(Some(s)),
            other => Err(self.mistyped(key, "a string or null", other)),
        }
    }

    /// An integer that must fit `T` (`u32` counters, `i16` priorities, `u8` status bits).
    fn int<T: TryFrom<i64, Error = std::num::TryFromIntError>>(&self, key: &str) -> Result<T> {
        T::try_from(self.i64(key)?).map_err(|e| self.invalid(key, e))
    }

    fn duration(&self, key: &str) -> Result<Duration> {
        u64::try_from(self.i64(key)?)
            .map(Duration::from_millis)
            .map_err(|e| self.invalid(key, e))
    }

    fn opt_duration(&self, key: &str) -> Result<Option<Duration>> {
        self.opt_i64(key)?
            .map(|ms| {
                u64::try_from(ms)
                    .map(Duration::from_millis)
                    .map_err(|e| self.invalid(key, e))
            })
            .transpose()
    }

    fn opt_date(&self, key: &str) -> Result<Option<DateTime<Utc>>> {
        match self.get(key) {
            Bson::Null => Ok(None),
            Bson::DateTime(t) => DateTime::from_timestamp_millis(t.timestamp_millis())
                .map(Some)
                .ok_or_else(|| {
                    self.mistyped(key, "a date chrono can represent", &Bson::DateTime(*t))
                }),
            other => Err(self.mistyped(key, "a date", other)),
        }
    }

    fn date(&self, key: &str) -> Result<DateTime<Utc>> {
        self.opt_date(key)?
            .ok_or_else(|| self.mistyped(key, "a date", &Bson::Null))
    }

    fn opt_json(&self, key: &str) -> Result<Option<Value>> {
        match self.get(key) {
            Bson::Null => Ok(None),
            Bson::String(text) => serde_json::from_str(text)
                .map(Some)
                .map_err(|e| self.invalid(key, e)),
            other => Err(self.mistyped(key, "JSON text", other)),
        }
    }

    fn json(&self, key: &str) -> Result<Value> {
        self.opt_json(key)?
            .ok_or_else(|| self.mistyped(key, "JSON text", &Bson::Null))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jobs_round_trip_through_bson() {
        let mut job = Job::queued(
            "echo",
            json!({"$where": "1", "a.b": [1, {"": null}], "é": "ü"}),
            3,
            Duration::from_millis(1500),
            DateTime::from_timestamp_millis(1_700_000_000_123).unwrap_or_default(),
        );
        job.output = Some(json!({"$set": {"x.y": 1}}));
        job.lease_token = Some(LeaseToken::from_i64(-7));
        let doc = job_document(&job).unwrap();
        assert_eq!(job_from_document(&doc).unwrap(), job);
        assert!(records_from_document(&doc).unwrap().is_empty());
        assert!(!doc.contains_key(HOLDER_FIELD), "no key, no holder");

        job.priority = i16::MIN;
        job.unique_key = Some("$key.with.dots".to_owned());
        job.unique_across = StatusSet::of(&[JobStatus::Queued, JobStatus::Error]);
        job.timeout = Some(Duration::from_millis(2_750));
        job.snoozes = 4;
        let doc = job_document(&job).unwrap();
        assert_eq!(job_from_document(&doc).unwrap(), job);
        assert_eq!(doc.get_str(HOLDER_FIELD).unwrap(), "$key.with.dots");

        job.status = JobStatus::Completed;
        let doc = job_document(&job).unwrap();
        assert!(!doc.contains_key(HOLDER_FIELD), "not held when completed");
    }

    #[test]
    fn items_round_trip_through_bson_and_old_ones_fire_once() {
        for misfire in [
            Misfire::FireOnce,
            Misfire::Skip,
            Misfire::FireEach { max: u32::MAX },
        ] {
            let item = SchedulerItem::crontab("echo", "*/5 * * * *", "Europe/Zurich")
                .with_input(json!({"$set": 1}))
                .with_misfire(misfire);
            let doc = item_document(&item).unwrap();
            assert_eq!(item_from_document(&doc).unwrap(), item);
        }
        let item = SchedulerItem::delay("echo", 60).with_misfire(Misfire::Skip);
        let mut doc = item_document(&item).unwrap();
        assert_eq!(
            doc.get_document("misfire").unwrap(),
            &doc! {"policy": "skip"}
        );
        doc.remove("misfire");
        assert_eq!(item_from_document(&doc).unwrap().misfire, Misfire::FireOnce);
        for broken in [
            Bson::String("skip".into()),
            Bson::Null,
            Bson::Document(doc! {"policy": "sometimes"}),
            Bson::Document(doc! {"policy": "fire_each"}),
            Bson::Document(doc! {"policy": "fire_each", "max": -1}),
        ] {
            doc.insert("misfire", broken.clone());
            let read = item_from_document(&doc);
            assert!(
                matches!(read, Err(ref e) if e.is_store()),
                "{broken:?}: {read:?}"
            );
        }
    }

    #[test]
    fn broken_fields_are_store_errors() {
        let job = Job::queued("echo", json!(1), 3, Duration::ZERO, Utc::now());
        let good = job_document(&job).unwrap();
        let breakages: Vec<(&str, Bson)> = vec![
            ("status", Bson::String("sleeping".into())),
            ("status", Bson::Int32(1)),
            ("input", Bson::String("{not json".into())),
            ("queued_at", Bson::String("yesterday".into())),
            ("attempt", Bson::Int64(-1)),
            ("retry_delay", Bson::Int64(-5)),
            ("_id", Bson::String("zz".into())),
            ("errors", Bson::Int32(3)),
            ("priority", Bson::Int64(40_000)),
            ("priority", Bson::Null),
            ("unique_across", Bson::Int32(300)),
            ("unique_key", Bson::Int32(1)),
            ("timeout", Bson::Int64(-1)),
            ("snoozes", Bson::String("2".into())),
        ];
        for (key, value) in breakages {
            let mut doc = good.clone();
            doc.insert(key, value);
            let read = job_from_document(&doc).and_then(|_| records_from_document(&doc));
            assert!(
                matches!(read, Err(ref e) if e.is_store()),
                "{key}: {read:?}"
            );
        }
    }
}
