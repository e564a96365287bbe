//! What differs between the SQL databases beyond their query files, as plain data: the store
//! body reads it to choose between the few control flows that differ.

use std::hash::Hasher;

/// What a database's SQL can and cannot do, as the store body needs to know it. A dialect
/// starts from [`Dialect::new`] and says only where it differs.
#[derive(Debug)]
pub(crate) struct Dialect {
    /// The database, for messages.
    pub name: &'static str,
    /// The folder of its query and migration files.
    pub dir: &'static str,
    /// The character quoting identifiers.
    pub quote: char,
    /// Whether tables live in a named schema.
    pub schemas: bool,
    /// How statements write parameters.
    pub placeholders: Placeholders,
    /// The statement opening a write transaction, when not the driver's default.
    pub begin: Option<&'static str>,
    /// How a batch of changes is applied.
    pub batches: Batches,
    /// How a claim takes its rows.
    pub claims: Claims,
    /// Whether `insert_jobs` reads what keeps jobs out itself: it leaves out the jobs whose key
    /// a stored job holds, and all of them when one of `:ids` is stored, and returns the ids it
    /// added (`added`) with what it read (`stored`, `held`), as `job_conflicts` does.
    pub checked_inserts: bool,
    /// Whether deleted rows stay until a later pass, which `vacuum_jobs` runs
    /// (`reclaim_space`).
    pub vacuums: bool,
    /// Whether the database has one writer at a time (SQLite's file lock): the store then
    /// queues its own writers, which hands the lock on at once where the database's busy
    /// handler would sleep.
    pub one_writer: bool,
    /// What asks for a statement's plan.
    pub explain: &'static str,
    /// The column of the plan's text in the rows of `explain`.
    pub plan_column: &'static str,
}

impl Dialect {
    /// A dialect named `name` with its files in `dir`: identifiers in double quotes, no
    /// schemas, numbered placeholders, the driver's own `BEGIN`, batches in a transaction,
    /// claims by `UPDATE … RETURNING`, plans by `EXPLAIN`.
    pub(crate) const fn new(name: &'static str, dir: &'static str) -> Self {
        Self {
            name,
            dir,
            quote: '"',
            schemas: false,
            placeholders: Placeholders::Numbered,
            begin: None,
            batches: Batches::Transaction,
            claims: Claims::Returning,
            checked_inserts: false,
            vacuums: false,
            one_writer: false,
            explain: "EXPLAIN",
            plan_column: "QUERY PLAN",
        }
    }

    /// Tables live in a named schema.
    pub(crate) const fn with_schemas(mut self) -> Self {
        self.schemas = true;
        self
    }

    /// Identifiers are quoted with `quote`.
    pub(crate) const fn quoted(mut self, quote: char) -> Self {
        self.quote = quote;
        self
    }

    /// Parameters are written as `placeholders` say.
    pub(crate) const fn placeholders(mut self, placeholders: Placeholders) -> Self {
        self.placeholders = placeholders;
        self
    }

    /// Write transactions open with `begin`.
    pub(crate) const fn begin(mut self, begin: &'static str) -> Self {
        self.begin = Some(begin);
        self
    }

    /// One writer at a time.
    pub(crate) const fn one_writer(mut self) -> Self {
        self.one_writer = true;
        self
    }

    /// Batches are applied as `batches` says.
    pub(crate) const fn batches(mut self, batches: Batches) -> Self {
        self.batches = batches;
        self
    }

    /// Claims take their rows as `claims` says.
    pub(crate) const fn claims(mut self, claims: Claims) -> Self {
        self.claims = claims;
        self
    }

    /// `insert_jobs` reads what keeps jobs out itself (see [`Dialect::checked_inserts`]).
    pub(crate) const fn checked_inserts(mut self) -> Self {
        self.checked_inserts = true;
        self
    }

    /// Deleted rows stay until a later pass (see [`Dialect::vacuums`]).
    pub(crate) const fn vacuums(mut self) -> Self {
        self.vacuums = true;
        self
    }

    /// Plans are asked for with `explain` and read from `column`.
    pub(crate) const fn explain(mut self, explain: &'static str, column: &'static str) -> Self {
        self.explain = explain;
        self.plan_column = column;
        self
    }
}

/// How statements write parameters; query files name them (`:now`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Placeholders {
    /// `$1`, `$2`…, one per name, in the order the names first appear.
    Numbered,
    /// `?` at each appearance, bound in order.
    Positional,
}

/// How a batch of changes is applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Batches {
    /// One statement over the entries as arrays (`unnest … WITH ORDINALITY`), returning the
    /// ordinals of the entries it applied.
    OneStatement,
    /// One transaction running one statement over the entries as JSON rows (`json_each`),
    /// returning the ids it changed, then one statement over the applied entries that need a
    /// follow-up (error records).
    Rows,
    /// One transaction: a locking read over the entries as JSON rows (`JSON_TABLE`) returns
    /// the ids of the rows they apply to, then one statement over those entries changes them,
    /// then the follow-up; for dialects without `UPDATE … RETURNING`. A batch whose statement
    /// over rows the dialect lacks runs as [`Batches::Transaction`].
    LockThenRows,
    /// One transaction running one statement per entry.
    Transaction,
}

/// How a claim takes its rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Claims {
    /// One `UPDATE … RETURNING` statement.
    Returning,
    /// In one transaction, `SELECT … FOR UPDATE SKIP LOCKED`, then an `UPDATE` of the rows read.
    LockThenUpdate,
}

/// 64-bit FNV-1a of `bytes` as a signed integer: migration checksums, lock keys and channel
/// names that must be the same on every build and platform.
pub(crate) fn fnv1a(bytes: &[u8]) -> i64 {
    let mut hasher = fnv::FnvHasher::default();
    hasher.write(bytes);
    i64::from_ne_bytes(hasher.finish().to_ne_bytes())
}
