//! The scheduler side: items, batch claims of due items and conditional takes (R15, R25).

use futures::TryStreamExt;
use mongodb::bson::{doc, Document};
use mongodb::options::UpdateModifications;
use remote_core::__private::async_trait;
use remote_core::{ClaimItems, Error, ItemId, Result, SchedulerItem, SchedulerStore, Take};
use tracing::warn;

use crate::bulk::{apply_each, Conditional};
use crate::claim::BatchClaim;
use crate::config::MongoStore;
use crate::documents::{date, item_document, item_from_document, object_id, opt_date, passed};
use crate::indexes::DUE_INDEX;

#[async_trait]
impl SchedulerStore for MongoStore {
    async fn insert_item(&self, item: &SchedulerItem) -> Result<()> {
        self.items
            .insert_one(item_document(item)?)
            .await
            .map_err(|e| Error::store(format!("inserting scheduler item {}", item.id), e))?;
        Ok(())
    }

    async fn get_item(&self, id: &ItemId) -> Result<Option<SchedulerItem>> {
        self.items
            .find_one(doc! { "_id": object_id(id.as_str())? })
            .await
            .map_err(|e| Error::store(format!("reading scheduler item {id}"), e))?
            .as_ref()
            .map(item_from_document)
            .transpose()
    }

    async fn list_items(&self) -> Result<Vec<SchedulerItem>> {
        let docs: Vec<Document> = self
            .items
            .find(doc! {})
            .sort(doc! { "_id": 1 })
            .await
            .map_err(|e| Error::store("listing scheduler items", e))?
            .try_collect()
            .await
            .map_err(|e| Error::store("reading scheduler items", e))?;
        docs.iter().map(item_from_document).collect()
    }

    async fn update_item(&self, item: &SchedulerItem) -> Result<bool> {
        let result = self
            .items
            .replace_one(
                doc! { "_id": object_id(item.id.as_str())? },
                item_document(item)?,
            )
            .await
            .map_err(|e| Error::store(format!("updating scheduler item {}", item.id), e))?;
        Ok(result.matched_count == 1)
    }

    async fn delete_item(&self, id: &ItemId) -> Result<bool> {
        let result = self
            .items
            .delete_one(doc! { "_id": object_id(id.as_str())? })
            .await
            .map_err(|e| Error::store(format!("deleting scheduler item {id}"), e))?;
        Ok(result.deleted_count == 1)
    }

    /// Three commands whatever the batch size (see the `claim` module): a read of due item ids
    /// on the due index, one `updateMany` locking the first `limit` of them while still due and
    /// unlocked, one read of the items locked by the claim's marker.
    async fn claim_items(&self, claim: &ClaimItems) -> Result<Vec<SchedulerItem>> {
        if claim.limit == 0 {
            return Ok(Vec::new());
        }
        let claimed = BatchClaim {
            collection: &self.items,
            claimable: doc! {
                "active": true,
                "next_call_time": { "$lte": date(claim.now) },
                "locked_until": passed(claim.now),
            },
            candidates: Document::new(),
            order: doc! { "next_call_time": 1, "_id": 1 },
            hint: DUE_INDEX,
            set: doc! { "locked_until": date(claim.locked_until) },
            still: Document::new(),
            projection: None,
            limit: claim.limit,
            what: "scheduler items",
        }
        .run()
        .await?;
        let mut items = Vec::with_capacity(claimed.docs.len());
        let mut failure = claimed.cut_short;
        for doc in &claimed.docs {
            match item_from_document(doc) {
                Ok(item) => items.push(item),
                Err(e) => failure = Some(e),
            }
        }
        if let Some(e) = failure {
            if items.is_empty() {
                return Err(e);
            }
            warn!(
                "claim of scheduler items cut short, keeping the {} claimed: {e}",
                items.len()
            );
        }
        items.sort_by(|a, b| (a.next_call_time, &a.id).cmp(&(b.next_call_time, &b.id)));
        Ok(items)
    }

    /// One `bulkWrite` of conditional updates, each requiring the item active with the expected
    /// `next_call_time` and `locked_until`.
    async fn take_items(&self, takes: &[Take]) -> Result<Vec<bool>> {
        let updates = takes
            .iter()
            .map(|take| {
                Ok(Conditional::new(
                    doc! {
                        "_id": object_id(take.id.as_str())?,
                        "active": true,
                        "next_call_time": date(take.expected_next_call_time),
                        "locked_until": date(take.expected_locked_until),
                    },
                    UpdateModifications::Document(doc! {
                        "$set": {
                            "next_call_time": opt_date(take.next_call_time),
                            "locked_until": opt_date(take.locked_until),
                        },
                    }),
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        apply_each(
            self.database.client(),
            &self.items,
            updates,
            "taking scheduler items",
        )
        .await
    }
}
