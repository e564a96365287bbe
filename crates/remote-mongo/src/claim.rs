//! Batch claims in a constant number of round trips, for jobs (R2) and scheduler items (R15).
//!
//! A claim reads the ids of up to `limit + 16` claimable documents in order through an index,
//! takes the first `limit` of them with one `updateMany` that re-checks each is still claimable
//! and writes a marker unique to this call, and reads what it took back by that marker. Three
//! commands whatever the batch size. A candidate another caller took between the read and the
//! update fails the re-check and is skipped; the update is then repeated on the next candidates
//! of the same read, and the read itself only while the claim is short and the last read came
//! back full.

use mongodb::bson::{doc, oid::ObjectId, Bson, Document};
use mongodb::options::{Hint, UpdateModifications};
use mongodb::Collection;
use remote_core::{Error, Result};

use crate::indexes::ID_INDEX;

/// The field each claimed document gets the marker of its claim in.
pub(crate) const CLAIM_FIELD: &str = "claim_id";

/// Candidates read beyond a claim's limit, so that a claim losing a few documents to other
/// callers takes the next ones without another sorted read.
const CANDIDATE_SLACK: usize = 16;

/// One batch claim on one collection.
pub(crate) struct BatchClaim<'a> {
    /// The collection.
    pub collection: &'a Collection<Document>,
    /// What makes a document claimable; the update re-checks it.
    pub claimable: Document,
    /// Further conditions of the candidate read, on fields a claim never changes.
    pub candidates: Document,
    /// The claim order, served by `hint`.
    pub order: Document,
    /// The index giving candidates in claim order.
    pub hint: &'static str,
    /// What claiming writes, as the `$set` stage of a pipeline update (expressions allowed).
    pub set: Document,
    /// Conditions the read back adds: what the update wrote that another call may undo.
    pub still: Document,
    /// Projection of the documents read back; all fields when `None`.
    pub projection: Option<Document>,
    /// Most documents to claim.
    pub limit: usize,
    /// What is claimed, for error messages.
    pub what: &'static str,
}

/// What a claim took.
pub(crate) struct Claimed {
    /// The documents, as the update left them, in no particular order.
    pub docs: Vec<Document>,
    /// The error that cut the claim short after it took `docs`.
    pub cut_short: Option<Error>,
}

impl BatchClaim<'_> {
    /// Runs the claim. An error after documents were taken is returned beside them, so that none
    /// waits for its lock or lease to run out; with nothing taken, it is the error.
    pub(crate) async fn run(self) -> Result<Claimed> {
        let marker = ObjectId::new();
        let update = marked(&self.set, marker);
        let mut touched = Vec::new();
        let taking = self.take(&update, &mut touched).await;
        if touched.is_empty() {
            return taking.map(|()| Claimed {
                docs: Vec::new(),
                cut_short: None,
            });
        }
        let read = self.read_back(marker, &touched).await;
        match (taking, read) {
            (Ok(()), Ok(docs)) => Ok(Claimed {
                docs,
                cut_short: None,
            }),
            (Err(e), Ok(docs)) if !docs.is_empty() => Ok(Claimed {
                docs,
                cut_short: Some(e),
            }),
            (Err(e), _) | (Ok(()), Err(e)) => Err(e),
        }
    }

    /// Reads candidates and updates them until `limit` are taken or none is left; every id sent
    /// in an update is pushed to `touched`.
    async fn take(&self, update: &UpdateModifications, touched: &mut Vec<Bson>) -> Result<()> {
        let mut taken = 0;
        while taken < self.limit {
            let asked = (self.limit - taken).saturating_add(CANDIDATE_SLACK);
            let ids = self.candidates(asked).await?;
            let mut rest = ids.as_slice();
            while taken < self.limit && !rest.is_empty() {
                let (batch, tail) = rest.split_at((self.limit - taken).min(rest.len()));
                rest = tail;
                touched.extend_from_slice(batch);
                let mut filter = self.claimable.clone();
                filter.insert("_id", doc! { "$in": batch });
                let result = self
                    .collection
                    .update_many(filter, update.clone())
                    .hint(Hint::Name(ID_INDEX.to_owned()))
                    .await
                    .map_err(|e| Error::store(format!("claiming {}", self.what), e))?;
                taken += usize::try_from(result.matched_count).unwrap_or(usize::MAX);
            }
            if ids.len() < asked {
                break;
            }
        }
        Ok(())
    }

    /// The ids of up to `asked` claimable documents in claim order, in one reply (the limit
    /// closes the cursor).
    async fn candidates(&self, asked: usize) -> Result<Vec<Bson>> {
        let mut filter = self.claimable.clone();
        filter.extend(self.candidates.clone());
        let context = || format!("reading {} to claim", self.what);
        let mut cursor = self
            .collection
            .find(filter)
            .sort(self.order.clone())
            .hint(Hint::Name(self.hint.to_owned()))
            .projection(doc! { "_id": 1 })
            .limit(i64::try_from(asked).unwrap_or(i64::MAX))
            .batch_size(u32::try_from(asked).unwrap_or(u32::MAX))
            .await
            .map_err(|e| Error::store(context(), e))?;
        let mut ids = Vec::with_capacity(asked.min(1024));
        while cursor
            .advance()
            .await
            .map_err(|e| Error::store(context(), e))?
        {
            let doc = cursor
                .deserialize_current()
                .map_err(|e| Error::store(context(), e))?;
            if let Some(id) = doc.get("_id") {
                ids.push(id.clone());
            }
        }
        Ok(ids)
    }

    /// The documents this claim took, read by its marker among the ids it sent. The limit lets
    /// the server close the cursor with its first reply, so no `getMore` follows.
    async fn read_back(&self, marker: ObjectId, touched: &[Bson]) -> Result<Vec<Document>> {
        let mut filter = doc! { "_id": { "$in": touched }, CLAIM_FIELD: marker };
        filter.extend(self.still.clone());
        let context = || format!("reading the {} claimed", self.what);
        let mut find = self
            .collection
            .find(filter)
            .hint(Hint::Name(ID_INDEX.to_owned()))
            .limit(i64::try_from(touched.len()).unwrap_or(i64::MAX))
            .batch_size(u32::try_from(touched.len()).unwrap_or(u32::MAX));
        if let Some(projection) = &self.projection {
            find = find.projection(projection.clone());
        }
        let mut cursor = find.await.map_err(|e| Error::store(context(), e))?;
        let mut docs = Vec::with_capacity(touched.len());
        while cursor
            .advance()
            .await
            .map_err(|e| Error::store(context(), e))?
        {
            docs.push(
                cursor
                    .deserialize_current()
                    .map_err(|e| Error::store(context(), e))?,
            );
        }
        Ok(docs)
    }
}

/// The pipeline update of one `$set` stage writing `set` and `marker` in [`CLAIM_FIELD`].
fn marked(set: &Document, marker: ObjectId) -> UpdateModifications {
    let mut set = set.clone();
    set.insert(CLAIM_FIELD, marker);
    UpdateModifications::Pipeline(vec![doc! { "$set": set }])
}
