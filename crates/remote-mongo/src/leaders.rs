//! Named maintenance leases (R33): one document per name, `{_id: name, holder, until, note}`,
//! the note JSON text or null.
//!
//! A bid is one conditional upsert: it updates the lease when it ended at or before `now` or
//! the bidder holds it, and otherwise inserts a document with the lease's name, which the `_id`
//! index refuses when the lease exists, so the bid is lost. Two bids racing for a lease never
//! held both insert, and the index keeps one.

use futures::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use remote_core::{AcquireLeader, Error, Leader, Result};

use crate::config::MongoStore;
use crate::documents::{date, json_text, leader_from_document};
use crate::unique::is_duplicate_key;

impl MongoStore {
    /// Wins or renews the lease `acquire.name` with one `update` (upsert); `false` when
    /// another holder has it.
    pub(crate) async fn bid(&self, acquire: &AcquireLeader<'_>) -> Result<bool> {
        let filter = doc! {
            "_id": acquire.name,
            "$or": [
                { "until": { "$lte": date(acquire.now) } },
                { "holder": acquire.holder },
            ],
        };
        let mut set = doc! { "holder": acquire.holder, "until": date(acquire.until) };
        let mut update = Document::new();
        match acquire.note {
            Some(note) => {
                set.insert("note", json_text(note)?);
            }
            None => {
                update.insert("$setOnInsert", doc! { "note": Bson::Null });
            }
        }
        update.insert("$set", set);
        match self.leaders.update_one(filter, update).upsert(true).await {
            Ok(result) => Ok(result.matched_count == 1 || result.upserted_id.is_some()),
            Err(e) if is_duplicate_key(&e) => Ok(false),
            Err(e) => Err(Error::store(
                format!("bidding for the maintenance lease '{}'", acquire.name),
                e,
            )),
        }
    }

    /// Every lease in name order.
    pub(crate) async fn list_leaders(&self) -> Result<Vec<Leader>> {
        let docs: Vec<Document> = self
            .leaders
            .find(doc! {})
            .sort(doc! { "_id": 1 })
            .await
            .map_err(|e| Error::store("listing maintenance leases", e))?
            .try_collect()
            .await
            .map_err(|e| Error::store("listing maintenance leases", e))?;
        docs.iter().map(leader_from_document).collect()
    }
}
