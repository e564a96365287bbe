//! Batches of conditional single-document updates as one `bulkWrite` command (MongoDB 8.0).

use mongodb::bson::Document;
use mongodb::options::{UpdateModifications, UpdateOneModel, WriteModel};
use mongodb::{Client, Collection};
use remote_core::{Error, Result};

/// One conditional update of one document.
pub(crate) struct Conditional {
    /// Which document, and the state it must be in.
    pub filter: Document,
    /// The change.
    pub update: UpdateModifications,
}

impl Conditional {
    /// The update `update` of the document `filter` selects.
    pub(crate) fn new(filter: Document, update: UpdateModifications) -> Self {
        Self { filter, update }
    }
}

/// Applies the updates in order with one `bulkWrite` (the driver splits only a batch larger
/// than the server takes in one message); answers, for each, whether its filter matched.
pub(crate) async fn apply_each(
    client: &Client,
    collection: &Collection<Document>,
    updates: Vec<Conditional>,
    what: &str,
) -> Result<Vec<bool>> {
    if updates.is_empty() {
        return Ok(Vec::new());
    }
    let n = updates.len();
    let namespace = collection.namespace();
    let models = updates.into_iter().map(|u| {
        WriteModel::from(
            UpdateOneModel::builder()
                .namespace(namespace.clone())
                .filter(u.filter)
                .update(u.update)
                .build(),
        )
    });
    let result = client
        .bulk_write(models)
        .ordered(true)
        .verbose_results()
        .await
        .map_err(|e| Error::store(what.to_owned(), e))?;
    Ok((0..n)
        .map(|i| {
            result
                .update_results
                .get(&i)
                .is_some_and(|r| r.matched_count == 1)
        })
        .collect())
}
