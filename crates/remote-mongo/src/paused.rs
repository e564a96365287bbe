//! Paused job names (R31): one document per name, `{_id: name, since}`, in their own
//! collection, so every process sees what any of them paused.

use futures::TryStreamExt;
use mongodb::bson::{doc, Document};
use mongodb::options::{UpdateOneModel, WriteModel};
use remote_core::{Error, PauseNames, PausedName, Result};

use crate::config::MongoStore;
use crate::documents::{date, paused_from_document};
use crate::unique::DUPLICATE_KEY;

impl MongoStore {
    /// Pausing is one `bulkWrite` of upserts that write `since` only when they insert, so a
    /// paused name keeps the time it was first paused; resuming is one `deleteMany`.
    pub(crate) async fn pause(&self, pause: &PauseNames<'_>) -> Result<()> {
        if pause.names.is_empty() {
            return Ok(());
        }
        if !pause.paused {
            self.paused
                .delete_many(doc! { "_id": { "$in": pause.names } })
                .await
                .map_err(|e| Error::store("resuming job names", e))?;
            return Ok(());
        }
        let namespace = self.paused.namespace();
        let models = || {
            pause.names.iter().map(|name| {
                WriteModel::from(
                    UpdateOneModel::builder()
                        .namespace(namespace.clone())
                        .filter(doc! { "_id": name })
                        .update(doc! { "$setOnInsert": { "since": date(pause.now) } })
                        .upsert(true)
                        .build(),
                )
            })
        };
        let mut tries = 0;
        loop {
            tries += 1;
            match self
                .database
                .client()
                .bulk_write(models())
                .ordered(false)
                .await
            {
                Ok(_) => return Ok(()),
                // Another process paused one of the names at the same moment: the name is
                // paused, and a second pass finds every name stored.
                Err(e) if tries == 1 && only_duplicates(&e) => continue,
                Err(e) => return Err(Error::store("pausing job names", e)),
            }
        }
    }

    /// The paused names in name order.
    pub(crate) async fn list_paused(&self) -> Result<Vec<PausedName>> {
        let docs: Vec<Document> = self
            .paused
            .find(doc! {})
            .sort(doc! { "_id": 1 })
            .await
            .map_err(|e| Error::store("listing paused job names", e))?
            .try_collect()
            .await
            .map_err(|e| Error::store("listing paused job names", e))?;
        docs.iter().map(paused_from_document).collect()
    }
}

/// True when a `bulkWrite` failed only because upserts met documents inserted meanwhile.
fn only_duplicates(error: &mongodb::error::Error) -> bool {
    match error.kind.as_ref() {
        mongodb::error::ErrorKind::BulkWrite(failure) => {
            failure.write_concern_errors.is_empty()
                && !failure.write_errors.is_empty()
                && failure
                    .write_errors
                    .values()
                    .all(|e| e.code == DUPLICATE_KEY)
        }
        _ => false,
    }
}
