//! The indexes every store creates when it opens, by name.

use std::time::Duration;

use mongodb::bson::{doc, Document};
use mongodb::options::IndexOptions;
use mongodb::{Collection, IndexModel};
use remote_core::{Error, JobStatus, Result};

use crate::unique::HOLDER_FIELD;

/// Jobs: queued jobs in pull order, highest priority first (partial: queued jobs only);
/// serves claims (R2, R26).
pub(crate) const CLAIM_INDEX: &str = "queued_priority_queued_at_id";
/// Jobs: creation order within a status; serves listings by status.
pub(crate) const LIST_INDEX: &str = "status_queued_at_id";
/// Jobs: the unique-key guard of the jobs holding their key (partial); finds a key's holder
/// (R27).
pub(crate) const HOLDER_INDEX: &str = "unique_holder";
/// Unique-key locks: expiry of the lock documents an hour after they were last written.
pub(crate) const LOCK_EXPIRY_INDEX: &str = "at_ttl";
/// Jobs: processing jobs by lease end; serves lease recovery (R8).
pub(crate) const LEASE_INDEX: &str = "status_lease_until_id";
/// Jobs: all jobs by creation; serves listings without a status.
pub(crate) const CREATED_INDEX: &str = "queued_at_id";
/// Jobs: finished jobs by the time they finished; serves removals oldest first (R6).
pub(crate) const FINISHED_INDEX: &str = "completed_at_id";
/// Scheduler items: active items by next call time; serves the claim of due items (R15).
pub(crate) const DUE_INDEX: &str = "active_next_call_time_id";
/// Every collection's primary key, through which claims update and read back their batch.
pub(crate) const ID_INDEX: &str = "_id_";

fn index(name: &str, keys: Document) -> IndexModel {
    IndexModel::builder()
        .keys(keys)
        .options(IndexOptions::builder().name(name.to_owned()).build())
        .build()
}

/// An index of the documents `only` selects.
fn partial(name: &str, keys: Document, only: Document) -> IndexModel {
    IndexModel::builder()
        .keys(keys)
        .options(
            IndexOptions::builder()
                .name(name.to_owned())
                .partial_filter_expression(only)
                .build(),
        )
        .build()
}

/// Creates the indexes of the collections; creating an index that exists changes nothing.
pub(crate) async fn create_indexes(
    jobs: &Collection<Document>,
    items: &Collection<Document>,
    locks: &Collection<Document>,
) -> Result<()> {
    jobs.create_indexes([
        partial(
            CLAIM_INDEX,
            doc! { "priority": -1, "queued_at": 1, "_id": 1 },
            doc! { "status": JobStatus::Queued.as_str() },
        ),
        index(LIST_INDEX, doc! { "status": 1, "queued_at": 1, "_id": 1 }),
        partial(
            HOLDER_INDEX,
            doc! { HOLDER_FIELD: 1 },
            doc! { HOLDER_FIELD: { "$type": "string" } },
        ),
        index(
            LEASE_INDEX,
            doc! { "status": 1, "lease_until": 1, "_id": 1 },
        ),
        index(CREATED_INDEX, doc! { "queued_at": 1, "_id": 1 }),
        index(FINISHED_INDEX, doc! { "completed_at": 1, "_id": 1 }),
    ])
    .await
    .map_err(|e| Error::store(format!("creating the indexes of '{}'", jobs.name()), e))?;
    items
        .create_indexes([index(
            DUE_INDEX,
            doc! { "active": 1, "next_call_time": 1, "_id": 1 },
        )])
        .await
        .map_err(|e| Error::store(format!("creating the indexes of '{}'", items.name()), e))?;
    // A lock matters only while a transaction adding a job holds it: an old one is deleted.
    locks
        .create_index(
            IndexModel::builder()
                .keys(doc! { "at": 1 })
                .options(
                    IndexOptions::builder()
                        .name(LOCK_EXPIRY_INDEX.to_owned())
                        .expire_after(Duration::from_secs(3_600))
                        .build(),
                )
                .build(),
        )
        .await
        .map_err(|e| Error::store(format!("creating the indexes of '{}'", locks.name()), e))?;
    Ok(())
}
