//! Batched changes, each entry fenced on its own: one statement over arrays where the dialect
//! has them, one statement over the entries as JSON rows in a transaction where it reads
//! those, else one transaction running one statement per entry.

use std::collections::{HashMap, HashSet};

use remote_core::{Error, Result};

use crate::dialect::Batches;
use crate::engine::{Args, Param};
use crate::queries::Q;
use crate::store::{again_after_deadlocks, Inner};

/// A batch of changes, one entry per row.
pub(crate) struct Batch<'a> {
    /// The statement applying many entries at once over arrays of their values; it returns
    /// the `id` of each row it changed.
    pub all: Q,
    /// The locking read returning the `id` of each row the entries apply to, for dialects
    /// whose statements over rows return nothing ([`Batches::LockThenRows`]).
    pub pick: Q,
    /// The statement applying one entry.
    pub each: Q,
    /// What follows the entries that the flags name, once applied.
    pub then: Option<Then>,
    /// The row each entry changes.
    pub keys: Vec<&'a str>,
    /// Each entry's values.
    pub entries: Vec<Args<'a>>,
    /// Values shared by every entry.
    pub shared: Args<'a>,
    /// Whether an entry on a row that an earlier entry of the batch names is left out (adding
    /// rows), rather than applied after it (changing rows).
    pub first_only: bool,
}

/// Statements that follow some applied entries of a batch (error records after failures).
pub(crate) struct Then {
    /// The statement for one entry, run after it.
    pub each: Q,
    /// The statement for many, over the entries as JSON rows, run after each round.
    pub all: Q,
    /// Which entries it follows (when applied).
    pub flags: Vec<bool>,
}

/// The entries of each round, in key order. An entry naming a row an earlier one names goes
/// in a later round, so that it sees the row as the entries before it left it (with
/// `first_only`, all go in the first and the statement leaves the later ones out). Key order
/// is the order `apply_one_by_one` takes rows in: concurrent batches naming the same rows in
/// other orders then lock them in the same order and cannot deadlock.
fn rounds(keys: &[&str], first_only: bool) -> Vec<Vec<usize>> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut rounds: Vec<Vec<usize>> = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let round = seen.entry(key).or_insert(0);
        let at = if first_only { 0 } else { *round };
        *round += 1;
        if rounds.len() <= at {
            rounds.resize_with(at + 1, Vec::new);
        }
        rounds[at].push(i);
    }
    for members in &mut rounds {
        members.sort_by_key(|&i| keys[i]);
    }
    rounds
}

/// Marks the members of a round whose row a statement changed as applied, one per row.
fn mark(applied: &mut [bool], members: &[usize], keys: &[&str], changed: &HashSet<String>) {
    let mut answered = HashSet::new();
    for &i in members {
        applied[i] = changed.contains(keys[i]) && answered.insert(keys[i]);
    }
}

/// The ids in a statement's rows; a NULL id is the row of a statement's wake-up (PostgreSQL's
/// NOTIFY).
fn changed_ids(rows: &[crate::engine::Row]) -> Result<HashSet<String>> {
    rows.iter()
        .filter_map(|r| r.text("id").transpose())
        .collect()
}

impl Inner {
    /// Applies a batch; whether each entry applied. A batch applied in one transaction runs
    /// again when the database rolled it back to break a deadlock.
    pub(crate) async fn apply(&self, batch: Batch<'_>) -> Result<Vec<bool>> {
        if batch.entries.is_empty() {
            return Ok(Vec::new());
        }
        let batch = &batch;
        match self.engine.dialect().batches {
            Batches::OneStatement => self.apply_as_arrays(batch).await,
            Batches::Rows => again_after_deadlocks(|| self.apply_as_rows(batch, false)).await,
            Batches::LockThenRows if self.queries.find(batch.all).is_some() => {
                again_after_deadlocks(|| self.apply_as_rows(batch, true)).await
            }
            Batches::LockThenRows | Batches::Transaction => {
                again_after_deadlocks(|| self.apply_one_by_one(batch)).await
            }
        }
    }

    /// One statement per round, a round holding each row's next entry (one round, unless an
    /// entry repeats a row), so that every entry on a row sees the row as the entries before
    /// it left it; the arrays list the rows in key order.
    async fn apply_as_arrays(&self, batch: &Batch<'_>) -> Result<Vec<bool>> {
        let mut applied = vec![false; batch.keys.len()];
        for members in rounds(&batch.keys, batch.first_only) {
            let mut args = columns(batch.entries_of(&members))?;
            args.extend(batch.shared.iter().cloned());
            let changed = changed_ids(&self.rows(batch.all, &args).await?)?;
            mark(&mut applied, &members, &batch.keys, &changed);
        }
        Ok(applied)
    }

    /// As `apply_as_arrays`, with each round's entries bound as one parameter of JSON rows
    /// (`:rows`), and in one transaction with the statement that follows the applied entries
    /// the flags name. With `lock_first`, the round's `pick` reads and locks the rows the
    /// entries apply to, and the statement gets only those entries.
    async fn apply_as_rows(&self, batch: &Batch<'_>, lock_first: bool) -> Result<Vec<bool>> {
        let Batch {
            all,
            pick,
            then,
            keys,
            shared,
            ..
        } = batch;
        let mut applied = vec![false; keys.len()];
        let mut tx = self.begin().await?;
        for members in rounds(keys, batch.first_only) {
            let rows = with_rows(batch.entries_of(&members), shared);
            let changed = if lock_first {
                let picked = changed_ids(&tx.rows(*pick, &rows).await?)?;
                let taken: Vec<usize> = members
                    .iter()
                    .copied()
                    .filter(|&i| picked.contains(keys[i]))
                    .collect();
                if !taken.is_empty() {
                    tx.run(*all, &with_rows(batch.entries_of(&taken), shared))
                        .await?;
                }
                picked
            } else {
                changed_ids(&tx.rows(*all, &rows).await?)?
            };
            mark(&mut applied, &members, keys, &changed);
            if let Some(then) = then {
                let follow: Vec<usize> = members
                    .iter()
                    .copied()
                    .filter(|&i| applied[i] && then.flags.get(i) == Some(&true))
                    .collect();
                if !follow.is_empty() {
                    tx.run(then.all, &with_rows(batch.entries_of(&follow), shared))
                        .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(applied)
    }

    /// One transaction, one statement per entry; rows are taken in key order (entries on one
    /// row in batch order), so that concurrent batches lock rows in the same order.
    async fn apply_one_by_one(&self, batch: &Batch<'_>) -> Result<Vec<bool>> {
        let Batch {
            each,
            then,
            keys,
            entries,
            shared,
            ..
        } = batch;
        let mut order: Vec<usize> = (0..keys.len()).collect();
        order.sort_by_key(|&i| keys[i]);
        let mut applied = vec![false; keys.len()];
        let mut tx = self.begin().await?;
        for i in order {
            let mut args = entries[i].clone();
            args.extend(shared.iter().cloned());
            applied[i] = tx.run(*each, &args).await? > 0;
            if let Some(then) = then {
                if applied[i] && then.flags.get(i) == Some(&true) {
                    tx.run(then.each, &args).await?;
                }
            }
        }
        tx.commit().await?;
        Ok(applied)
    }
}

impl<'a> Batch<'a> {
    /// The entries at `members`.
    fn entries_of(&self, members: &[usize]) -> Vec<Args<'a>> {
        members.iter().map(|&i| self.entries[i].clone()).collect()
    }
}

/// Entries bound as one parameter of JSON rows (`:rows`), beside the values they share.
fn with_rows<'a>(rows: Vec<Args<'a>>, shared: &[(&'static str, Param<'a>)]) -> Args<'a> {
    let mut args: Args = vec![("rows", Param::Rows(rows))];
    args.extend(shared.iter().cloned());
    args
}

/// A batch's entries as one list parameter per name.
pub(crate) fn columns(entries: Vec<Args<'_>>) -> Result<Args<'_>> {
    let Some(first) = entries.first() else {
        return Ok(Vec::new());
    };
    let names: Vec<&'static str> = first.iter().map(|(name, _)| *name).collect();
    let mut lists: Vec<Vec<Param>> = names
        .iter()
        .map(|_| Vec::with_capacity(entries.len()))
        .collect();
    for entry in entries {
        for (j, (name, value)) in entry.into_iter().enumerate() {
            if names.get(j) != Some(&name) {
                return Err(Error::store_msg(format!("batch entries differ at :{name}")));
            }
            lists[j].push(value);
        }
    }
    names
        .into_iter()
        .zip(lists)
        .map(|(name, values)| {
            Param::list(values)
                .map(|list| (name, list))
                .ok_or_else(|| Error::store_msg(format!("no list of the values of :{name}")))
        })
        .collect()
}
