//! Adding jobs (R1, R15, R27), on their own or inside the application's transaction (R32).
//!
//! A batch in which no job holds a unique key: one `find` of the stored ids (with
//! [`OnConflict::Refuse`]), then one unordered `insertMany`; the `_id` index refuses an id
//! another caller stored in between. A batch with keys runs in a transaction (see the `unique`
//! module): the lock documents of its keys, one `find` of the stored ids and of the keys'
//! holders, one `insertMany` of the jobs that are neither stored nor duplicates; a transaction
//! that meets a concurrent one runs again.

use std::collections::HashMap;

use mongodb::bson::{oid::ObjectId, Document};
use mongodb::error::ErrorKind;
use mongodb::ClientSession;
use remote_core::{Error, Inserted, Job, OnConflict, Result};

use crate::config::MongoStore;
use crate::documents::{held_key, job_document, object_id};
use crate::transaction::{Failure, Transaction};
use crate::unique::{lock_keys, lookup, Known, DUPLICATE_KEY};

/// A batch to insert, with the ids it repeats answered.
struct Batch<'a> {
    jobs: &'a [Job],
    oids: Vec<ObjectId>,
    on_conflict: OnConflict,
    /// Answers known before reading the collection: a repeated id, with `Skip`.
    answers: Vec<Option<Inserted>>,
    /// The distinct keys the batch's jobs would hold.
    keys: Vec<&'a str>,
}

impl<'a> Batch<'a> {
    /// The batch; with `Refuse`, an id repeated in it refuses the call.
    fn new(jobs: &'a [Job], on_conflict: OnConflict) -> Result<Self> {
        let oids = jobs
            .iter()
            .map(|j| object_id(j.id.as_str()))
            .collect::<Result<Vec<_>>>()?;
        let mut answers = vec![None; jobs.len()];
        let mut seen = std::collections::HashSet::with_capacity(jobs.len());
        for (i, oid) in oids.iter().enumerate() {
            if !seen.insert(*oid) {
                match on_conflict {
                    OnConflict::Refuse => return Err(Error::JobExists(jobs[i].id.clone())),
                    OnConflict::Skip => answers[i] = Some(Inserted::Skipped),
                }
            }
        }
        let mut keys: Vec<&str> = jobs
            .iter()
            .zip(&answers)
            .filter(|(_, answer)| answer.is_none())
            .filter_map(|(job, _)| held_key(job))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        Ok(Self {
            jobs,
            oids,
            on_conflict,
            answers,
            keys,
        })
    }

    /// The ids of the jobs not answered yet.
    fn open_ids(&self) -> Vec<ObjectId> {
        (0..self.jobs.len())
            .filter(|&i| self.answers[i].is_none())
            .map(|i| self.oids[i])
            .collect()
    }

    /// The answers once the collection's stored ids and holders are known, and the positions
    /// of the jobs to insert, which are answered `Stored`. With `Refuse`, a stored id refuses
    /// the call.
    fn decide(&self, known: &Known) -> Result<(Vec<Inserted>, Vec<usize>)> {
        let mut answers = self.answers.clone();
        let mut first_of_key: HashMap<&str, usize> = HashMap::new();
        let mut send = Vec::with_capacity(self.jobs.len());
        for (i, job) in self.jobs.iter().enumerate() {
            if answers[i].is_some() {
                continue;
            }
            if known.stored.contains(&self.oids[i]) {
                match self.on_conflict {
                    OnConflict::Refuse => return Err(Error::JobExists(job.id.clone())),
                    OnConflict::Skip => answers[i] = Some(Inserted::Skipped),
                }
                continue;
            }
            if let Some(key) = held_key(job) {
                if let Some(holder) = known.holders.get(key) {
                    answers[i] = Some(Inserted::Duplicate(holder.clone()));
                    continue;
                }
                if let Some(&first) = first_of_key.get(key) {
                    answers[i] = Some(Inserted::Duplicate(self.jobs[first].id.clone()));
                    continue;
                }
                first_of_key.insert(key, i);
            }
            answers[i] = Some(Inserted::Stored);
            send.push(i);
        }
        Ok((
            answers
                .into_iter()
                .map(|a| a.unwrap_or(Inserted::Skipped))
                .collect(),
            send,
        ))
    }

    fn documents(&self, send: &[usize]) -> Result<Vec<Document>> {
        send.iter().map(|&i| job_document(&self.jobs[i])).collect()
    }
}

/// The positions of the documents an `insert_many` refused, when every refusal is a duplicate
/// `_id`; `None` for any other failure.
fn refused_as_duplicates(error: &mongodb::error::Error) -> Option<Vec<usize>> {
    match error.kind.as_ref() {
        ErrorKind::InsertMany(failure) if failure.write_concern_error.is_none() => {
            let writes = failure.write_errors.as_ref()?;
            writes
                .iter()
                .map(|w| (w.code == DUPLICATE_KEY).then_some(w.index))
                .collect()
        }
        _ => None,
    }
}

impl MongoStore {
    /// Adds jobs inside the transaction of `session` (R32): they become visible to workers
    /// when the transaction commits, and are gone if it aborts.
    ///
    /// The answers are those of [`insert_jobs`](remote_core::JobStore::insert_jobs) with
    /// [`OnConflict::Refuse`]: a stored or repeated id refuses the call with
    /// [`Error::JobExists`] before anything is written, and a job whose unique key is held is
    /// answered [`Inserted::Duplicate`] with the holder, read in the transaction's snapshot.
    /// Two commands, one `find` and one `insertMany`, and a third writing the lock documents
    /// of the unique keys when the jobs have any.
    ///
    /// `session` must come from the client of the store's database
    /// (`store.database().client().start_session()`), with a transaction started. MongoDB
    /// aborts a transaction when one of its writes fails: when a concurrent transaction adds a
    /// job with one of the same unique keys, or another caller stores one of the ids, this
    /// call fails with a store error whose source is the driver's error (labelled
    /// `TransientTransactionError` for a write conflict), the transaction is aborted, and the
    /// application runs it again, as for any transient transaction error; the run again reads
    /// the other job as the key's holder.
    pub async fn insert_jobs_in(
        &self,
        session: &mut ClientSession,
        jobs: &[Job],
    ) -> Result<Vec<Inserted>> {
        let batch = Batch::new(jobs, OnConflict::Refuse)?;
        self.insert_in(session, &batch)
            .await
            .map_err(Failure::into_error)
    }

    /// The body of `insert_jobs`.
    pub(crate) async fn insert(
        &self,
        jobs: &[Job],
        on_conflict: OnConflict,
    ) -> Result<Vec<Inserted>> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let batch = Batch::new(jobs, on_conflict)?;
        if batch.keys.is_empty() {
            self.insert_plain(&batch).await
        } else {
            self.insert_in_transaction(&batch).await
        }
    }

    /// A batch without unique keys: with `Refuse`, one `find` of the ids first; then one
    /// unordered `insertMany`, whose refusals by the `_id` index are ids another caller
    /// stored since.
    async fn insert_plain(&self, batch: &Batch<'_>) -> Result<Vec<Inserted>> {
        let known = match batch.on_conflict {
            OnConflict::Refuse => lookup(&self.jobs, &batch.open_ids(), &[], None)
                .await
                .map_err(|e| Error::store("looking up the ids of new jobs", e))?,
            OnConflict::Skip => Known::default(),
        };
        let (mut answers, send) = batch.decide(&known)?;
        if send.is_empty() {
            return Ok(answers);
        }
        let docs = batch.documents(&send)?;
        if let Err(e) = self.jobs.insert_many(docs).ordered(false).await {
            let refused =
                refused_as_duplicates(&e).ok_or_else(|| Error::store("inserting jobs", e))?;
            for position in refused {
                let Some(&i) = send.get(position) else {
                    continue;
                };
                match batch.on_conflict {
                    OnConflict::Refuse => return Err(Error::JobExists(batch.jobs[i].id.clone())),
                    OnConflict::Skip => answers[i] = Inserted::Skipped,
                }
            }
        }
        Ok(answers)
    }

    /// A batch with unique keys, in a transaction of its own, run again while it meets
    /// concurrent ones.
    async fn insert_in_transaction(&self, batch: &Batch<'_>) -> Result<Vec<Inserted>> {
        let mut transaction = Transaction::new(self, "adding jobs").await?;
        loop {
            transaction.begin().await?;
            let result = self.insert_in(transaction.session(), batch).await;
            if let Some(answers) = transaction.finish(result).await? {
                return Ok(answers);
            }
        }
    }

    /// Adds the batch in the session: the keys' lock documents, one `find` of the ids and
    /// holders, one ordered `insertMany`, all in the session's transaction when it has one.
    async fn insert_in(
        &self,
        session: &mut ClientSession,
        batch: &Batch<'_>,
    ) -> std::result::Result<Vec<Inserted>, Failure> {
        if batch.jobs.is_empty() {
            return Ok(Vec::new());
        }
        lock_keys(&self.database, &self.locks, &batch.keys, session)
            .await
            .map_err(|e| Failure::Driver("locking the unique keys of new jobs", e))?;
        let known = lookup(&self.jobs, &batch.open_ids(), &batch.keys, Some(session))
            .await
            .map_err(|e| Failure::Driver("looking up the ids and unique keys of new jobs", e))?;
        let (answers, send) = batch.decide(&known).map_err(Failure::Refused)?;
        if !send.is_empty() {
            let docs = batch.documents(&send).map_err(Failure::Refused)?;
            self.jobs
                .insert_many(docs)
                .session(&mut *session)
                .await
                .map_err(|e| Failure::Driver("inserting jobs", e))?;
        }
        Ok(answers)
    }
}
