//! Batched changes, each entry fenced on its own: one statement over arrays where the dialect
//! has them, one statement over the entries as JSON rows in a transaction where it reads
//! those, else one transaction running one statement per entry.

use std::collections::{HashMap, HashSet};

use remote_core::{Error, Result};

use crate::dialect::Batches;
use crate::engine::{Args, Param};
use crate::queries::Q;
use crate::store::Inner;

/// A batch of changes, one entry per row.
pub(crate) struct Batch<'a> {
    /// The statement applying many entries at once over arrays of their values; it returns
    /// the `id` of each row it changed.
    pub all: Q,
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
    /// Applies a batch; whether each entry applied.
    pub(crate) async fn apply(&self, batch: Batch<'_>) -> Result<Vec<bool>> {
        if batch.entries.is_empty() {
            return Ok(Vec::new());
        }
        match self.engine.dialect().batches {
            Batches::OneStatement => self.apply_as_arrays(batch).await,
            Batches::Rows => self.apply_as_rows(batch).await,
            Batches::Transaction => self.apply_one_by_one(batch).await,
        }
    }

    /// One statement per round, a round holding each row's next entry (one round, unless an
    /// entry repeats a row), so that every entry on a row sees the row as the entries before
    /// it left it; the arrays list the rows in key order.
    async fn apply_as_arrays(&self, batch: Batch<'_>) -> Result<Vec<bool>> {
        let Batch {
            all,
            keys,
            entries,
            shared,
            first_only,
            ..
        } = batch;
        let mut entries: Vec<Option<Args>> = entries.into_iter().map(Some).collect();
        let mut applied = vec![false; keys.len()];
        for members in rounds(&keys, first_only) {
            let values = members.iter().filter_map(|&i| entries[i].take()).collect();
            let mut args = columns(values)?;
            args.extend(shared.iter().cloned());
            let changed = changed_ids(&self.rows(all, &args).await?)?;
            mark(&mut applied, &members, &keys, &changed);
        }
        Ok(applied)
    }

    /// As `apply_as_arrays`, with each round's entries bound as one parameter of JSON rows
    /// (`:rows`), and in one transaction with the statement that follows the applied entries
    /// the flags name.
    async fn apply_as_rows(&self, batch: Batch<'_>) -> Result<Vec<bool>> {
        let Batch {
            all,
            then,
            keys,
            entries,
            shared,
            first_only,
            ..
        } = batch;
        let followed = |i: usize| then.as_ref().is_some_and(|t| t.flags.get(i) == Some(&true));
        let mut entries: Vec<Option<Args>> = entries.into_iter().map(Some).collect();
        let mut applied = vec![false; keys.len()];
        let mut tx = self.begin().await?;
        for members in rounds(&keys, first_only) {
            let mut kept: Vec<(usize, Args)> = Vec::new();
            let mut values = Vec::with_capacity(members.len());
            for &i in &members {
                let Some(entry) = entries[i].take() else {
                    continue;
                };
                if followed(i) {
                    kept.push((i, entry.clone()));
                }
                values.push(entry);
            }
            let mut args: Args = vec![("rows", Param::Rows(values))];
            args.extend(shared.iter().cloned());
            let changed = changed_ids(&tx.rows(all, &args).await?)?;
            mark(&mut applied, &members, &keys, &changed);
            let follow: Vec<Args> = kept
                .into_iter()
                .filter(|(i, _)| applied[*i])
                .map(|(_, entry)| entry)
                .collect();
            if let (Some(then), false) = (&then, follow.is_empty()) {
                let mut args: Args = vec![("rows", Param::Rows(follow))];
                args.extend(shared.iter().cloned());
                tx.run(then.all, &args).await?;
            }
        }
        tx.commit().await?;
        Ok(applied)
    }

    /// One transaction, one statement per entry; rows are taken in key order (entries on one
    /// row in batch order), so that concurrent batches lock rows in the same order.
    async fn apply_one_by_one(&self, batch: Batch<'_>) -> Result<Vec<bool>> {
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
        let mut entries: Vec<Option<Args>> = entries.into_iter().map(Some).collect();
        let mut applied = vec![false; keys.len()];
        let mut tx = self.begin().await?;
        for i in order {
            let mut args = entries[i].take().unwrap_or_default();
            args.extend(shared.iter().cloned());
            applied[i] = tx.run(each, &args).await? > 0;
            if let Some(then) = &then {
                if applied[i] && then.flags.get(i) == Some(&true) {
                    tx.run(then.each, &args).await?;
                }
            }
        }
        tx.commit().await?;
        Ok(applied)
    }
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
