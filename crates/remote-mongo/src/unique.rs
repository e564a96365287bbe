//! Unique keys (R27): which job holds a key, and how adding jobs with keys stays atomic.
//!
//! A job holds its key while its status is one of its `unique_across`. The jobs that hold
//! their key carry it in the guard field `unique_holder`, under an index restricted to the
//! documents that have it: inserting writes the guard when the new job holds its key, and
//! every update that changes a job's status recomputes it for the new status ([`holder_in`]).
//! Finding a key's holder is one index lookup.
//!
//! Jobs that would hold a key are added in a transaction that first writes a lock document
//! of each of their keys (`{_id: key}` in the locks collection), then reads the keys' holders,
//! then inserts the jobs that are not duplicates. Two transactions adding the same key write
//! the same lock document, so one of them fails with a write conflict and runs again, and then
//! reads the other's job as the holder: adding is atomic however many processes add at once.
//! The guard index is not unique: a unique index would refuse the status changes that make a
//! job a second holder (which the contract allows: a job entering a status it is unique
//! across), and the project's test server does not release unique-index entries on updates.

use std::collections::{HashMap, HashSet};

use futures::TryStreamExt;
use mongodb::bson::{doc, oid::ObjectId, Bson, Document};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::{ClientSession, Collection, Database};
use remote_core::{Error, JobId, JobStatus};

/// The guard field: the job's unique key while the job holds it, absent otherwise.
pub(crate) const HOLDER_FIELD: &str = "unique_holder";

/// The server's error code for a duplicate key.
pub(crate) const DUPLICATE_KEY: i32 = 11000;

/// The server's error code for a write conflict.
const WRITE_CONFLICT: i32 = 112;

/// True when the server refused a write for a duplicate key.
pub(crate) fn is_duplicate_key(error: &mongodb::error::Error) -> bool {
    match &*error.kind {
        ErrorKind::Write(WriteFailure::WriteError(e)) => e.code == DUPLICATE_KEY,
        ErrorKind::Command(e) => e.code == DUPLICATE_KEY,
        ErrorKind::InsertMany(failure) => failure
            .write_errors
            .as_ref()
            .is_some_and(|errors| errors.iter().any(|e| e.code == DUPLICATE_KEY)),
        _ => false,
    }
}

/// The guard of a job moving to `status`, as a pipeline-update expression: its key when it
/// holds the key in that status, else the field is removed.
pub(crate) fn holder_in(status: JobStatus) -> Bson {
    let across_has = doc! {
        "$ne": [{ "$bitAnd": ["$unique_across", i32::from(status.bit())] }, 0],
    };
    Bson::Document(doc! {
        "$cond": [
            { "$and": [{ "$eq": [{ "$type": "$unique_key" }, "string"] }, across_has] },
            "$unique_key",
            "$$REMOVE",
        ],
    })
}

/// Writes the lock document of each key inside the session's transaction (one `update`
/// command of upserts), so that a concurrent transaction writing one of them fails with a
/// write conflict. `at` records when a lock was last written, for its expiry.
pub(crate) async fn lock_keys(
    database: &Database,
    locks: &Collection<Document>,
    keys: &[&str],
    session: &mut ClientSession,
) -> mongodb::error::Result<()> {
    if keys.is_empty() {
        return Ok(());
    }
    let updates: Vec<Document> = keys
        .iter()
        .map(|key| {
            doc! {
                "q": { "_id": *key },
                "u": { "$inc": { "writes": 1_i64 }, "$currentDate": { "at": true } },
                "upsert": true,
            }
        })
        .collect();
    let reply = database
        .run_command(doc! { "update": locks.name(), "updates": updates, "ordered": true })
        .session(session)
        .await?;
    match reply.get_array("writeErrors") {
        Ok(errors) if !errors.is_empty() => Err(lock_refused(errors)),
        _ => Ok(()),
    }
}

/// The error of an `update` command whose reply lists write errors.
fn lock_refused(errors: &[Bson]) -> mongodb::error::Error {
    let codes: Vec<i32> = errors
        .iter()
        .filter_map(|e| e.as_document().and_then(|e| e.get_i32("code").ok()))
        .collect();
    mongodb::error::Error::custom(LockRefused(codes))
}

/// Lock documents the server refused to write, with the codes of its write errors.
#[derive(Debug)]
struct LockRefused(Vec<i32>);

/// True when a transaction that failed with `error` may succeed if run again: the server
/// says so (a write conflict), or a concurrent caller stored the same id or lock document
/// first.
pub(crate) fn may_run_again(error: &mongodb::error::Error) -> bool {
    error.contains_label(mongodb::error::TRANSIENT_TRANSACTION_ERROR)
        || is_duplicate_key(error)
        || matches!(&*error.kind, ErrorKind::Command(e) if e.code == WRITE_CONFLICT)
        || error.get_custom::<LockRefused>().is_some_and(|refused| {
            !refused.0.is_empty()
                && refused
                    .0
                    .iter()
                    .all(|c| *c == WRITE_CONFLICT || *c == DUPLICATE_KEY)
        })
}

/// What the jobs collection holds of a batch's ids and keys, read before inserting it.
#[derive(Default)]
pub(crate) struct Known {
    /// The ids asked for that are stored.
    pub stored: HashSet<ObjectId>,
    /// A job holding each key asked for that is held.
    pub holders: HashMap<String, JobId>,
}

/// Reads which of `ids` are stored and which jobs hold `keys`, in one `find`; inside the
/// session's transaction when one is given.
pub(crate) async fn lookup(
    jobs: &Collection<Document>,
    ids: &[ObjectId],
    keys: &[&str],
    session: Option<&mut ClientSession>,
) -> mongodb::error::Result<Known> {
    let mut branches = Vec::with_capacity(2);
    if !ids.is_empty() {
        branches.push(doc! { "_id": { "$in": ids } });
    }
    if !keys.is_empty() {
        branches.push(doc! { HOLDER_FIELD: { "$in": keys } });
    }
    let filter = match branches.len() {
        0 => return Ok(Known::default()),
        1 => branches.remove(0),
        _ => doc! { "$or": branches },
    };
    let find = jobs
        .find(filter)
        .projection(doc! { "_id": 1, HOLDER_FIELD: 1 })
        .batch_size(u32::try_from(ids.len() + keys.len()).unwrap_or(u32::MAX));
    let docs: Vec<Document> = match session {
        Some(session) => {
            let mut cursor = find.session(&mut *session).await?;
            cursor.stream(session).try_collect().await?
        }
        None => find.await?.try_collect().await?,
    };
    let mut known = Known::default();
    let wanted: HashSet<&ObjectId> = ids.iter().collect();
    for doc in docs {
        let Ok(id) = doc.get_object_id("_id") else {
            continue;
        };
        if wanted.contains(&id) {
            known.stored.insert(id);
        }
        if let Ok(key) = doc.get_str(HOLDER_FIELD) {
            if let Ok(holder) = JobId::parse(&id.to_hex()) {
                known.holders.entry(key.to_owned()).or_insert(holder);
            }
        }
    }
    Ok(known)
}

/// The error when jobs need a transaction the deployment does not have.
pub(crate) fn no_transactions(what: &str) -> Error {
    Error::store_msg(format!(
        "{what}: unique keys need transactions, which this MongoDB deployment does not have \
         (a standalone server); use a replica set (one node is enough) or a sharded cluster"
    ))
}
