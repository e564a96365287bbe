//! Adding jobs (R1, R27), written once for every dialect and for both ways in: the store's own
//! pool, and a connection the application lends inside its transaction (R32).
//!
//! The store reads what may keep jobs out — ids stored already and stored jobs holding a key —
//! answers each job as the contract says, and adds the others in one statement. The unique
//! indexes make this atomic: an id or a key taken by a concurrent insert between the read and
//! the write breaks one, the statement stores nothing, and the store reads and writes again.
//! Where the dialect's insert statement reads what keeps jobs out itself (PostgreSQL), adding
//! jobs that refuse stored ids is one round trip, keys or not.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;

use remote_core::{Error, Inserted, Job, JobId, LeaseToken, Result};

use crate::engine::{begin_on, Args, Param, Row, Runs};
use crate::queries::Q;
use crate::row::{self, json_text, millis};
use crate::store::{raced, Inner, Run, Tx};

/// How often adding jobs reads and writes again after a concurrent insert of the same id or
/// key broke a unique index (or a deadlock ended it).
const RETRIES: usize = 5;
/// Most bytes of job text in one insert statement: MySQL refuses a statement larger than its
/// `max_allowed_packet` (16 MiB by default). Larger calls run several statements in one
/// transaction.
const STATEMENT_BYTES: usize = 4 << 20;
/// Bytes a job's columns take in a statement besides its input and output.
const ROW_BYTES: usize = 256;

/// A job's JSON as text, which its statement arguments borrow.
struct JobTexts {
    input: String,
    output: Option<String>,
}

impl JobTexts {
    fn of(job: &Job) -> Result<Self> {
        Ok(Self {
            input: json_text(&job.input)?,
            output: job.output.as_ref().map(json_text).transpose()?,
        })
    }

    fn len(&self) -> usize {
        self.input.len() + self.output.as_ref().map_or(0, String::len) + ROW_BYTES
    }
}

/// Every column of a job, as `insert_jobs` takes them.
fn job_args<'a>(job: &'a Job, texts: &'a JobTexts) -> Args<'a> {
    vec![
        ("id", Param::Text(job.id.as_str())),
        ("job_name", Param::Text(&job.job_name)),
        ("input", Param::Text(&texts.input)),
        ("status", Param::Text(job.status.as_str())),
        ("output", Param::OptText(texts.output.as_deref())),
        ("attempt", Param::Int(i64::from(job.attempt))),
        ("max_attempts", Param::Int(i64::from(job.max_attempts))),
        ("retry_delay_ms", Param::Int(millis(job.retry_delay))),
        ("queued_at", Param::Time(job.queued_at)),
        ("not_before", Param::OptTime(job.not_before)),
        ("picked_at", Param::OptTime(job.picked_at)),
        ("completed_at", Param::OptTime(job.completed_at)),
        ("lease_until", Param::OptTime(job.lease_until)),
        (
            "lease_token",
            Param::OptInt(job.lease_token.map(LeaseToken::as_i64)),
        ),
        ("priority", Param::Int(i64::from(job.priority))),
        ("unique_key", Param::OptText(job.unique_key.as_deref())),
        (
            "unique_across",
            Param::Int(i64::from(job.unique_across.bits())),
        ),
        ("timeout_ms", Param::OptInt(job.timeout.map(millis))),
        ("snoozes", Param::Int(i64::from(job.snoozes))),
        (
            "trace_context",
            Param::OptText(job.trace_context.as_deref()),
        ),
    ]
}

/// The unique key `job` holds in its own status, if any (R27).
pub(crate) fn held_key(job: &Job) -> Option<&str> {
    job.unique_key
        .as_deref()
        .filter(|_| job.unique_across.contains(job.status))
}

/// What keeps jobs out, as `job_conflicts` (and, on dialects whose inserts check, `insert_jobs`)
/// reads it: rows of a `kind`, an `id` and a `unique_key`.
#[derive(Default)]
pub(crate) struct Conflicts {
    /// Ids stored already (`stored`).
    pub stored: HashSet<String>,
    /// Stored jobs holding each key, by key (`held`).
    pub holders: HashMap<String, Vec<JobId>>,
    /// Ids the statement added (`added`).
    pub added: HashSet<String>,
}

impl Conflicts {
    /// Reads which of `ids` are stored and which stored jobs hold one of `keys`.
    pub(crate) async fn read(run: &mut dyn Run, ids: Vec<&str>, keys: Vec<&str>) -> Result<Self> {
        let args = [("ids", Param::Texts(ids)), ("keys", Param::Texts(keys))];
        Self::from_rows(&run.rows(Q::job_conflicts, &args).await?)
    }

    fn from_rows(rows: &[Row]) -> Result<Self> {
        let mut conflicts = Self::default();
        for r in rows {
            let Some(id) = r.text("id")? else {
                continue; // The row of a wake-up (PostgreSQL's NOTIFY).
            };
            match row::text(r.as_ref(), "kind")?.as_str() {
                "stored" => {
                    conflicts.stored.insert(id);
                }
                "added" => {
                    conflicts.added.insert(id);
                }
                _ => {
                    let key = row::text(r.as_ref(), "unique_key")?;
                    let id = JobId::parse(&id)
                        .map_err(|e| Error::store("column id holds a malformed id", e))?;
                    conflicts.holders.entry(key).or_default().push(id);
                }
            }
        }
        Ok(conflicts)
    }

    /// A stored job holding `key` other than `except`.
    pub(crate) fn holder(&self, key: &str, except: Option<&JobId>) -> Option<&JobId> {
        self.holders
            .get(key)
            .and_then(|ids| ids.iter().find(|id| Some(*id) != except))
    }
}

/// One call adding jobs.
pub(crate) struct Adding<'a> {
    jobs: &'a [Job],
    texts: Vec<JobTexts>,
    /// [`OnConflict::Skip`](remote_core::OnConflict::Skip): a stored id is left out rather
    /// than refused.
    skip: bool,
}

impl<'a> Adding<'a> {
    pub(crate) fn new(jobs: &'a [Job], skip: bool) -> Result<Self> {
        Ok(Self {
            jobs,
            texts: jobs.iter().map(JobTexts::of).collect::<Result<_>>()?,
            skip,
        })
    }

    /// Whether the stored ids and keys must be read before writing: with `skip`, or when a job
    /// would hold its key. Otherwise the primary key alone refuses a stored id.
    fn must_read(&self) -> bool {
        self.skip || self.jobs.iter().any(|job| held_key(job).is_some())
    }

    /// Whether the jobs to add fit one statement (else a transaction holds several).
    fn fits_one_statement(&self) -> bool {
        self.texts.iter().map(JobTexts::len).sum::<usize>() <= STATEMENT_BYTES
    }

    /// Answers each job as the contract says (R1, R27), given what is stored, the way the
    /// reference store does: a stored or repeated id is refused or skipped; a job whose key a
    /// stored job, or an earlier job of the call, holds is a duplicate of that job.
    fn answer(&self, conflicts: &Conflicts) -> Result<Vec<Inserted>> {
        let mut added: HashSet<&str> = HashSet::with_capacity(self.jobs.len());
        let mut keys: HashMap<&str, &JobId> = HashMap::new();
        let mut answers = Vec::with_capacity(self.jobs.len());
        for job in self.jobs {
            let id = job.id.as_str();
            if conflicts.stored.contains(id) || added.contains(id) {
                if !self.skip {
                    return Err(Error::JobExists(job.id.clone()));
                }
                answers.push(Inserted::Skipped);
                continue;
            }
            if let Some(key) = held_key(job) {
                let holder = conflicts
                    .holder(key, None)
                    .or_else(|| keys.get(key).copied());
                if let Some(holder) = holder {
                    answers.push(Inserted::Duplicate(holder.clone()));
                    continue;
                }
                keys.insert(key, &job.id);
            }
            added.insert(id);
            answers.push(Inserted::Stored);
        }
        Ok(answers)
    }

    /// The jobs `answers` stores, in statements of at most [`STATEMENT_BYTES`].
    fn chunks(&self, answers: &[Inserted]) -> Vec<Vec<usize>> {
        let mut chunks: Vec<Vec<usize>> = Vec::new();
        let mut bytes = 0;
        for (i, _) in answers.iter().enumerate().filter(|(_, a)| a.is_stored()) {
            let len = self.texts[i].len();
            match chunks.last_mut() {
                Some(chunk) if bytes + len <= STATEMENT_BYTES => chunk.push(i),
                _ => {
                    chunks.push(vec![i]);
                    bytes = 0;
                }
            }
            bytes += len;
        }
        chunks
    }

    /// Adds the jobs `chosen` in one statement; what the statement read and added where the
    /// dialect's inserts check, else nothing.
    async fn write(
        &self,
        run: &mut dyn Run,
        chosen: &[usize],
        ids: Vec<&str>,
    ) -> Result<Conflicts> {
        let entries: Vec<Args> = chosen
            .iter()
            .map(|&i| job_args(&self.jobs[i], &self.texts[i]))
            .collect();
        let rows = Param::Rows(entries.clone());
        let mut args = crate::batch::columns(entries)?;
        args.extend([("rows", rows), ("ids", Param::Texts(ids))]);
        Conflicts::from_rows(&run.rows(Q::insert_jobs, &args).await?)
    }

    /// One try; `None` when a concurrent insert took an id or a key between the read and the
    /// write, and the next try must read again. `read`: read what is stored first; `checked`:
    /// the dialect's inserts read it themselves.
    async fn attempt(
        &self,
        run: &mut dyn Run,
        read: bool,
        checked: bool,
    ) -> Result<Option<Vec<Inserted>>> {
        if checked && !self.skip && self.fits_one_statement() {
            // One round trip: the statement reads what keeps jobs out, adds the jobs the call
            // would add if nothing were stored, but none of them when an id is stored and not
            // those whose key is held, and says so. Refusing stored ids, the answers it allows
            // are the ones it gives: a job left out only leaves out the later ones of its key.
            let unchecked = self.answer(&Conflicts::default())?;
            let sent: Vec<usize> = (0..self.jobs.len())
                .filter(|&i| unchecked[i].is_stored())
                .collect();
            let ids = self.jobs.iter().map(|j| j.id.as_str()).collect();
            let conflicts = self.write(run, &sent, ids).await?;
            let answers = self.answer(&conflicts)?;
            return Ok(self.agrees(&answers, &conflicts).then_some(answers));
        }
        let conflicts = if read {
            let ids = self.jobs.iter().map(|j| j.id.as_str()).collect();
            let keys: HashSet<&str> = self.jobs.iter().filter_map(held_key).collect();
            Conflicts::read(run, ids, keys.into_iter().collect()).await?
        } else {
            Conflicts::default()
        };
        let answers = self.answer(&conflicts)?;
        for chunk in self.chunks(&answers) {
            let ids = chunk.iter().map(|&i| self.jobs[i].id.as_str()).collect();
            let written = self.write(run, &chunk, ids).await?;
            if checked
                && chunk
                    .iter()
                    .any(|&i| !written.added.contains(self.jobs[i].id.as_str()))
            {
                return Ok(None);
            }
        }
        Ok(Some(answers))
    }

    /// Whether the statement added exactly the jobs `answers` stores.
    fn agrees(&self, answers: &[Inserted], conflicts: &Conflicts) -> bool {
        let stored = answers.iter().filter(|a| a.is_stored()).count();
        stored == conflicts.added.len()
            && self
                .jobs
                .iter()
                .zip(answers)
                .filter(|(_, a)| a.is_stored())
                .all(|(job, _)| conflicts.added.contains(job.id.as_str()))
    }
}

/// Where the tries of one call adding jobs run.
#[async_trait]
trait Target: Send {
    /// One try, in a transaction or not; `read`: read what is stored first.
    async fn once(&mut self, adding: &Adding<'_>, read: bool) -> Result<Option<Vec<Inserted>>>;
}

/// The store's pool: one statement, or a transaction when the jobs need several.
struct OnPool<'s>(&'s Inner);

#[async_trait]
impl Target for OnPool<'_> {
    async fn once(&mut self, adding: &Adding<'_>, read: bool) -> Result<Option<Vec<Inserted>>> {
        let checked = self.0.engine.dialect().checked_inserts;
        if adding.fits_one_statement() {
            return adding.attempt(&mut &*self.0, read, checked).await;
        }
        let mut tx = self.0.begin().await?;
        let answers = adding.attempt(&mut tx, read, checked).await?;
        if answers.is_some() {
            tx.commit().await?;
        }
        Ok(answers)
    }
}

/// A connection the caller lends: each try in a savepoint of the caller's transaction (or in a
/// transaction of its own when there is none), rolled back when it fails, so that the caller's
/// transaction goes on.
struct OnConnection<'s, 'c, DB: Runs>(&'s Inner, &'c mut DB::Connection);

#[async_trait]
impl<DB: Runs> Target for OnConnection<'_, '_, DB> {
    async fn once(&mut self, adding: &Adding<'_>, read: bool) -> Result<Option<Vec<Inserted>>> {
        let session = begin_on::<DB>(&mut *self.1)
            .await
            .map_err(|e| Error::store("cannot begin a savepoint", e))?;
        let mut tx = Tx::new(&self.0.queries, session);
        let checked = self.0.engine.dialect().checked_inserts;
        match adding.attempt(&mut tx, read, checked).await {
            Ok(Some(answers)) => tx.commit().await.map(|()| Some(answers)),
            failed => {
                tx.rollback().await?;
                failed
            }
        }
    }
}

/// Runs tries of adding jobs until one is not undone by a concurrent insert of the same id or
/// key; after such a one, the next reads what is stored first.
async fn retrying(adding: &Adding<'_>, target: &mut dyn Target) -> Result<Vec<Inserted>> {
    if adding.jobs.is_empty() {
        return Ok(Vec::new());
    }
    let mut read = adding.must_read();
    let mut tries = 0;
    loop {
        let outcome = target.once(adding, read).await;
        let again = match &outcome {
            Ok(None) => true,
            Err(e) => raced(e),
            Ok(Some(_)) => false,
        };
        if !again {
            return outcome.map(Option::unwrap_or_default);
        }
        if tries == RETRIES {
            return match outcome {
                Err(e) => Err(e),
                _ => Err(Error::store_msg(
                    "concurrent inserts of the same ids or keys kept undoing this one",
                )),
            };
        }
        tries += 1;
        read = true;
    }
}

impl Inner {
    /// Adds jobs through the pool.
    pub(crate) async fn insert(&self, jobs: &[Job], skip: bool) -> Result<Vec<Inserted>> {
        retrying(&Adding::new(jobs, skip)?, &mut OnPool(self)).await
    }

    /// Adds jobs on a connection the caller lends (R32).
    pub(crate) async fn insert_on<DB: Runs>(
        &self,
        conn: &mut DB::Connection,
        jobs: &[Job],
        skip: bool,
    ) -> Result<Vec<Inserted>> {
        let mut target = OnConnection::<DB>(self, conn);
        retrying(&Adding::new(jobs, skip)?, &mut target).await
    }
}
