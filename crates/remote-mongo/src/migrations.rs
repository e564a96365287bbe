//! Versioned, idempotent changes of the stored documents, applied when a store opens.
//!
//! Each collection's layout version is kept in the migrations collection as
//! `{_id: <collection name>, version, history: [{version, at}]}`; a collection without a record
//! has version 0, the layout before versions were recorded. A step renames fields, or adds
//! fields with their default values, with one `updateMany` over the documents that still have
//! an old name or miss a new field, so a step cut short by a crash is finished by the next open,
//! and two processes opening at once both apply it harmlessly.

use mongodb::bson::{self, doc, Bson, Document};
use mongodb::options::UpdateModifications;
use mongodb::Collection;
use remote_core::{Error, Result};
use tracing::info;

use crate::unique::is_duplicate_key;

/// One change of a collection's stored layout.
struct Migration {
    /// The layout version the change leads to.
    version: i64,
    /// What changes.
    change: Change,
}

/// What a layout version changes.
enum Change {
    /// Fields renamed, `(old, new)`.
    Rename(&'static [(&'static str, &'static str)]),
    /// Fields added, with the value a document without them gets.
    Add(fn() -> Document),
}

/// The layout versions of the jobs collection.
const JOBS: &[Migration] = &[
    Migration {
        version: 1,
        change: Change::Rename(&[
            ("retry_counter", "attempt"),
            ("max_retries", "max_attempts"),
            ("retry_time", "not_before"),
        ]),
    },
    Migration {
        version: 2,
        change: Change::Add(job_feature_defaults),
    },
];

/// The fields of the job features (R26–R29) as a job of the previous layout has them: no
/// priority, no unique key (held across queued and processing, the default), no timeout, never
/// snoozed.
fn job_feature_defaults() -> Document {
    doc! {
        "priority": 0_i32,
        "unique_key": Bson::Null,
        "unique_across": 3_i32,
        "timeout": Bson::Null,
        "snoozes": 0_i64,
    }
}

/// The layout versions of the scheduler collection.
const ITEMS: &[Migration] = &[Migration {
    version: 1,
    change: Change::Rename(&[
        ("retry_time", "locked_until"),
        ("retry_delay", "lock_duration"),
    ]),
}];

/// Brings the jobs and scheduler collections to the layout this version reads and writes.
pub(crate) async fn migrate(
    log: &Collection<Document>,
    jobs: &Collection<Document>,
    items: &Collection<Document>,
) -> Result<()> {
    migrate_collection(log, jobs, JOBS).await?;
    migrate_collection(log, items, ITEMS).await
}

async fn migrate_collection(
    log: &Collection<Document>,
    target: &Collection<Document>,
    steps: &[Migration],
) -> Result<()> {
    let name = target.name();
    let applied = applied_version(log, name).await?;
    let latest = steps.last().map_or(0, |step| step.version);
    if applied > latest {
        return Err(Error::store_msg(format!(
            "'{name}' has layout version {applied}, written by a newer remote-mongo; this one \
             reads up to version {latest}"
        )));
    }
    for step in steps.iter().filter(|step| step.version > applied) {
        let changed = match &step.change {
            Change::Rename(renames) => rename(target, renames).await?,
            Change::Add(defaults) => add(target, defaults()).await?,
        };
        record(log, name, step.version).await?;
        info!(
            "'{name}' migrated to layout version {}: {changed} documents changed",
            step.version
        );
    }
    Ok(())
}

/// The recorded layout version of the collection `name`; 0 when none is recorded.
async fn applied_version(log: &Collection<Document>, name: &str) -> Result<i64> {
    let record = log
        .find_one(doc! { "_id": name })
        .await
        .map_err(|e| Error::store(format!("reading the layout version of '{name}'"), e))?;
    match record.as_ref().map(|r| r.get("version")) {
        None => Ok(0),
        Some(Some(Bson::Int64(v))) => Ok(*v),
        Some(Some(Bson::Int32(v))) => Ok(i64::from(*v)),
        Some(other) => Err(Error::store_msg(format!(
            "the layout version of '{name}' in '{}' is not an integer: {other:?}",
            log.name()
        ))),
    }
}

/// Renames fields in every document that still has one of the old names; the number changed.
async fn rename(target: &Collection<Document>, renames: &[(&str, &str)]) -> Result<u64> {
    let mut old = Vec::with_capacity(renames.len());
    let mut to = Document::new();
    for (from, into) in renames {
        old.push(doc! { *from: { "$exists": true } });
        to.insert(*from, *into);
    }
    let result = target
        .update_many(doc! { "$or": old }, doc! { "$rename": to })
        .await
        .map_err(|e| Error::store(format!("renaming fields in '{}'", target.name()), e))?;
    Ok(result.modified_count)
}

/// Adds the fields of `defaults` with their values to every document that misses one of them
/// (a field that is there keeps its value); the number changed.
async fn add(target: &Collection<Document>, defaults: Document) -> Result<u64> {
    let missing: Vec<Document> = defaults
        .keys()
        .map(|field| doc! { field: { "$exists": false } })
        .collect();
    let mut set = Document::new();
    for (field, value) in defaults {
        let path = format!("${field}");
        set.insert(field, doc! { "$ifNull": [path, { "$literal": value }] });
    }
    let result = target
        .update_many(
            doc! { "$or": missing },
            UpdateModifications::Pipeline(vec![doc! { "$set": set }]),
        )
        .await
        .map_err(|e| Error::store(format!("adding fields to '{}'", target.name()), e))?;
    Ok(result.modified_count)
}

/// Records that `name` has layout `version`; a version recorded already stays.
async fn record(log: &Collection<Document>, name: &str, version: i64) -> Result<()> {
    let update = doc! {
        "$max": { "version": version },
        "$push": { "history": { "version": version, "at": bson::DateTime::now() } },
    };
    let mut tries = 0;
    loop {
        tries += 1;
        match log
            .update_one(doc! { "_id": name }, update.clone())
            .upsert(true)
            .await
        {
            Ok(_) => return Ok(()),
            // Two processes inserting the record at once: the loser updates it.
            Err(e) if tries == 1 && is_duplicate_key(&e) => continue,
            Err(e) => {
                return Err(Error::store(
                    format!("recording the layout version of '{name}'"),
                    e,
                ))
            }
        }
    }
}
