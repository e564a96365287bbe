//! BSON mapping of jobs, error records and scheduler items.
//!
//! Ids are ObjectIds, times BSON dates (milliseconds), durations `i64` milliseconds. JSON
//! inputs and outputs are stored as JSON text, so keys like `$where`, `a.b` or `""` are data
//! the server never reads as operators or paths.

use std::time::Duration;

use chrono::{DateTime, Utc};
use mongodb::bson::{self, doc, oid::ObjectId, Bson, Document};
use remote_core::{
    Error, ErrorRecord, ItemId, Job, JobId, JobStatus, LeaseToken, RecordId, Result, Schedule,
    SchedulerItem,
};
use serde_json::Value;

/// The ObjectId written for a core id (24 hex digits by construction).
pub(crate) fn object_id(hex: &str) -> Result<ObjectId> {
    ObjectId::parse_str(hex).map_err(|e| Error::store(format!("id '{hex}' is no ObjectId"), e))
}

/// A time as a BSON date (milliseconds).
pub(crate) fn date(t: DateTime<Utc>) -> Bson {
    Bson::DateTime(bson::DateTime::from_millis(t.timestamp_millis()))
}

/// The condition on a `retry_time` field that holds at `now`: null or missing, or passed.
///
/// One `$not: {$gt}` rather than an `$or` of null and `$lte`, so that a planner never splits
/// the query into branches: the condition stays a filter on the documents the index yields.
pub(crate) fn retry_time_passed(now: DateTime<Utc>) -> Document {
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

/// The document stored for a new job, with an empty error list.
pub(crate) fn job_document(job: &Job) -> Result<Document> {
    Ok(doc! {
        "_id": object_id(job.id.as_str())?,
        "job_name": &job.job_name,
        "input": json_text(&job.input)?,
        "status": job.status.as_str(),
        "output": job.output.as_ref().map(json_text).transpose()?,
        "retry_counter": i64::from(job.retry_counter),
        "max_retries": i64::from(job.max_retries),
        "retry_delay": millis(job.retry_delay),
        "queued_at": date(job.queued_at),
        "retry_time": opt_date(job.retry_time),
        "picked_at": opt_date(job.picked_at),
        "completed_at": opt_date(job.completed_at),
        "lease_until": opt_date(job.lease_until),
        "lease_token": job.lease_token.map(|t| t.0),
        "errors": [],
    })
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
        retry_counter: f.u32("retry_counter")?,
        max_retries: f.u32("max_retries")?,
        retry_delay: f.duration("retry_delay")?,
        queued_at: f.date("queued_at")?,
        retry_time: f.opt_date("retry_time")?,
        picked_at: f.opt_date("picked_at")?,
        completed_at: f.opt_date("completed_at")?,
        lease_until: f.opt_date("lease_until")?,
        lease_token: f.opt_i64("lease_token")?.map(LeaseToken),
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
        attempt: f.u32("attempt")?,
        message: f.str("message")?.to_owned(),
    })
}

/// The document stored for a scheduler item; the rule is a subdocument tagged by `kind`.
pub(crate) fn item_document(item: &SchedulerItem) -> Result<Document> {
    let schedule = bson::to_document(&item.schedule)
        .map_err(|e| Error::store(format!("encoding the schedule of item {}", item.id), e))?;
    Ok(doc! {
        "_id": object_id(item.id.as_str())?,
        "job_name": &item.job_name,
        "input": json_text(&item.input)?,
        "active": item.active,
        "next_call_time": opt_date(item.next_call_time),
        "retry_time": opt_date(item.retry_time),
        "retry_delay": millis(item.retry_delay),
        "schedule": schedule,
    })
}

/// A scheduler item read back; a missing or mistyped field is a store error.
pub(crate) fn item_from_document(doc: &Document) -> Result<SchedulerItem> {
    let f = Fields::new(doc, "scheduler item");
    let schedule = match doc.get("schedule") {
        Some(Bson::Document(schedule)) => bson::from_document::<Schedule>(schedule.clone())
            .map_err(|e| f.invalid("schedule", e))?,
        other => return Err(f.mistyped("schedule", "a document", other.unwrap_or(&Bson::Null))),
    };
    Ok(SchedulerItem {
        id: ItemId::parse(&f.id()?).map_err(|e| f.invalid("_id", e))?,
        job_name: f.str("job_name")?.to_owned(),
        input: f.json("input")?,
        active: f.bool("active")?,
        next_call_time: f.opt_date("next_call_time")?,
        retry_time: f.opt_date("retry_time")?,
        retry_delay: f.duration("retry_delay")?,
        schedule,
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

    fn u32(&self, key: &str) -> Result<u32> {
        u32::try_from(self.i64(key)?).map_err(|e| self.invalid(key, e))
    }

    fn duration(&self, key: &str) -> Result<Duration> {
        u64::try_from(self.i64(key)?)
            .map(Duration::from_millis)
            .map_err(|e| self.invalid(key, e))
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
        job.lease_token = Some(LeaseToken(-7));
        let doc = job_document(&job).unwrap();
        assert_eq!(job_from_document(&doc).unwrap(), job);
        assert!(records_from_document(&doc).unwrap().is_empty());
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
            ("retry_counter", Bson::Int64(-1)),
            ("retry_delay", Bson::Int64(-5)),
            ("_id", Bson::String("zz".into())),
            ("errors", Bson::Int32(3)),
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
