//! The scheduler side: items, due items in firing order, and the conditional take (R15).

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::bson::{doc, Document};
use remote_core::__private::async_trait;
use remote_core::{Error, ItemId, Result, SchedulerItem, SchedulerStore, Take};

use crate::config::MongoStore;
use crate::documents::{
    date, item_document, item_from_document, object_id, opt_date, retry_time_passed,
};

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

    async fn due_items(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<SchedulerItem>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let docs: Vec<Document> = self
            .items
            .find(doc! {
                "active": true,
                "next_call_time": { "$lte": date(now) },
                "retry_time": retry_time_passed(now),
            })
            .sort(doc! { "next_call_time": 1, "_id": 1 })
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .await
            .map_err(|e| Error::store("finding due scheduler items", e))?
            .try_collect()
            .await
            .map_err(|e| Error::store("reading due scheduler items", e))?;
        docs.iter().map(item_from_document).collect()
    }

    async fn take_item(&self, take: &Take) -> Result<bool> {
        let filter = doc! {
            "_id": object_id(take.id.as_str())?,
            "active": true,
            "next_call_time": {
                "$eq": date(take.expected_next_call_time),
                "$lte": date(take.now),
            },
            "retry_time": retry_time_passed(take.now),
        };
        let update = doc! {
            "$set": {
                "next_call_time": opt_date(take.next_call_time),
                "retry_time": opt_date(take.retry_time),
            },
        };
        let result = self
            .items
            .update_one(filter, update)
            .await
            .map_err(|e| Error::store(format!("taking scheduler item {}", take.id), e))?;
        Ok(result.matched_count == 1)
    }
}
