//! [`SqlStore`]: the one public store type, over any dialect; opening it, and running its
//! named statements on a pool or in a transaction.

use std::sync::Arc;

use async_trait::async_trait;
use remote_core::{Error, Result};

use crate::config::{SqlOptions, Tables};
use crate::dialect::Claims;
use crate::engine::{Args, Engine, Param, Pooled, Row, Session};
use crate::migrate;
use crate::queries::{Queries, Statement, Q};

/// A connection pool of one of the supported databases, as [`SqlStore::from_pool`] takes it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum SqlPool {
    /// A PostgreSQL pool (feature `postgres`).
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    /// An SQLite pool (feature `sqlite`).
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
    /// A MariaDB or MySQL pool (feature `mysql`).
    #[cfg(feature = "mysql")]
    MySql(sqlx::MySqlPool),
}

#[cfg(feature = "postgres")]
impl From<sqlx::PgPool> for SqlPool {
    fn from(pool: sqlx::PgPool) -> Self {
        SqlPool::Postgres(pool)
    }
}

#[cfg(feature = "sqlite")]
impl From<sqlx::SqlitePool> for SqlPool {
    fn from(pool: sqlx::SqlitePool) -> Self {
        SqlPool::Sqlite(pool)
    }
}

#[cfg(feature = "mysql")]
impl From<sqlx::MySqlPool> for SqlPool {
    fn from(pool: sqlx::MySqlPool) -> Self {
        SqlPool::MySql(pool)
    }
}

/// A job and scheduler store in PostgreSQL, SQLite or MariaDB/MySQL; cheap to clone (clones
/// share one pool).
///
/// Open it with [`SqlStore::connect`] or [`SqlStore::from_pool`], or through [`SqlOptions`] for
/// a table prefix, a PostgreSQL schema, or to skip migrations on connect.
#[derive(Clone)]
pub struct SqlStore {
    pub(crate) inner: Arc<Inner>,
}

/// What a store is made of: the database, its statements and its tables.
pub(crate) struct Inner {
    pub engine: Box<dyn Engine>,
    pub queries: Queries,
    pub tables: Tables,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("pool", &self.inner.engine.pool())
            .field("jobs", &self.inner.tables.jobs)
            .finish()
    }
}

impl SqlStore {
    /// Opens a store on a URL with default options: `postgres://…`, `sqlite://path?mode=rwc`
    /// (or `sqlite::memory:`), `mysql://…` or `mariadb://…`.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, SqlOptions::default()).await
    }

    /// Opens a store on an existing pool with default options.
    pub async fn from_pool(pool: impl Into<SqlPool>) -> Result<Self> {
        Self::from_pool_with(pool.into(), SqlOptions::default()).await
    }

    /// Opens a store on a URL with `options`.
    pub async fn connect_with(url: &str, options: SqlOptions) -> Result<Self> {
        options.validate()?;
        let scheme = url.split(':').next().unwrap_or_default();
        let pool: SqlPool =
            match scheme {
                #[cfg(feature = "postgres")]
                "postgres" | "postgresql" => crate::postgres::connect(url, &options).await?.into(),
                #[cfg(not(feature = "postgres"))]
                "postgres" | "postgresql" => return Err(missing(scheme, "postgres")),
                #[cfg(feature = "sqlite")]
                "sqlite" => crate::sqlite::connect(url, &options).await?.into(),
                #[cfg(not(feature = "sqlite"))]
                "sqlite" => return Err(missing(scheme, "sqlite")),
                #[cfg(feature = "mysql")]
                "mysql" | "mariadb" => crate::mysql::connect(url, &options).await?.into(),
                #[cfg(not(feature = "mysql"))]
                "mysql" | "mariadb" => return Err(missing(scheme, "mysql")),
                _ => return Err(Error::InvalidInput(
                    "a SQL store URL starts with postgres://, postgresql://, sqlite:, mysql:// \
                     or mariadb://"
                        .to_owned(),
                )),
            };
        Self::open(pool, &options).await
    }

    /// Opens a store on an existing pool with `options`.
    pub async fn from_pool_with(pool: SqlPool, options: SqlOptions) -> Result<Self> {
        options.validate()?;
        Self::open(pool, &options).await
    }

    async fn open(pool: SqlPool, options: &SqlOptions) -> Result<Self> {
        let engine: Box<dyn Engine> = match pool {
            #[cfg(feature = "postgres")]
            SqlPool::Postgres(pool) => Box::new(crate::postgres::engine(pool, options).await?),
            #[cfg(feature = "sqlite")]
            SqlPool::Sqlite(pool) => Box::new(Pooled::new(pool)),
            #[cfg(feature = "mysql")]
            SqlPool::MySql(pool) => Box::new(Pooled::new(pool)),
        };
        let tables = Tables::new(options, engine.dialect());
        let queries = Queries::new(engine.dialect(), &tables)?;
        let store = Self {
            inner: Arc::new(Inner {
                engine,
                queries,
                tables,
            }),
        };
        if options.run_migrations {
            store.migrate().await?;
        }
        Ok(store)
    }

    /// Brings the schema up to date: runs the embedded migrations not yet recorded, under a
    /// lock, so concurrent and repeated calls are safe.
    pub async fn migrate(&self) -> Result<()> {
        let inner = &self.inner;
        migrate::run(inner.engine.as_ref(), &inner.queries, &inner.tables).await
    }

    /// Drops every table this store's migrations created under its prefix, with their indexes
    /// (and, on PostgreSQL, the listing order's trigger functions); the schema or database
    /// stays. For stores made for a test or a benchmark: every job and item is gone.
    pub async fn drop_tables(&self) -> Result<()> {
        let inner = &self.inner;
        let fail = |e| Error::store("cannot drop the store's tables", e);
        let sql = &inner.queries.get(Q::drop_tables)?.sql;
        let mut tx = inner.engine.begin().await.map_err(fail)?;
        tx.script(sql).await.map_err(fail)?;
        tx.commit().await.map_err(fail)
    }

    /// The pool the store runs on (a clone sharing its connections).
    pub fn pool(&self) -> SqlPool {
        self.inner.engine.pool()
    }

    /// The database's plan for the claim of up to `limit` jobs named `names`, as text
    /// (`EXPLAIN` / `EXPLAIN QUERY PLAN`; nothing is claimed), to check the claim index is used.
    /// On MySQL it is the plan of the claim's locking read.
    pub async fn explain_claim(&self, names: &[String], limit: usize) -> Result<String> {
        let inner = &self.inner;
        let dialect = inner.engine.dialect();
        let claim = match dialect.claims {
            Claims::Returning => Q::claim_jobs,
            Claims::LockThenUpdate => Q::pick_jobs,
        };
        let statement = inner.queries.get(claim)?;
        let now = chrono::Utc::now();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let args = [
            ("now", Param::Time(now)),
            ("lease_until", Param::Time(now)),
            ("token", Param::Int(0)),
            ("names", Param::Texts(names)),
            ("limit", Param::Int(count(limit))),
        ];
        let explain = Statement {
            sql: format!("{} {}", dialect.explain, statement.sql),
            writes: false,
            ..statement.clone()
        };
        let rows = inner
            .engine
            .fetch(&explain, &statement.params(&args)?)
            .await
            .map_err(|e| Error::store("cannot explain the claim", e))?;
        let lines = rows
            .iter()
            .map(|row| row.plan_line())
            .collect::<Result<Vec<_>>>()?;
        Ok(lines.join("\n"))
    }

    /// The SQL the store sends for the statement `name` (the stem of its query file, e.g.
    /// `claim_jobs`, `record_outcome`), with this store's table names and the dialect's
    /// placeholders; `None` when the dialect has no such statement. Its parameters are bound
    /// in the order [`query_params`](Self::query_params) names them. For benchmarks and
    /// diagnostics that issue the store's own statements.
    pub fn query_text(&self, name: &str) -> Option<&str> {
        self.inner.queries.named(name).map(|s| s.sql.as_str())
    }

    /// The parameter names of the statement `name` in bind order (a name may repeat where the
    /// dialect's placeholders are positional); see [`query_text`](Self::query_text).
    pub fn query_params(&self, name: &str) -> Option<&[String]> {
        self.inner.queries.named(name).map(|s| s.binds.as_slice())
    }
}

/// The error of a URL whose dialect was left out of the build.
#[allow(dead_code)]
fn missing(scheme: &str, feature: &str) -> Error {
    Error::InvalidInput(format!(
        "remote-sql was built without the '{feature}' feature, which {scheme}: URLs need"
    ))
}

/// A count or limit as the databases take it.
pub(crate) fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The database's error behind a store error, if any.
fn database_error(error: &Error) -> Option<&dyn sqlx::error::DatabaseError> {
    std::error::Error::source(error)
        .and_then(|source| source.downcast_ref::<sqlx::Error>())
        .and_then(sqlx::Error::as_database_error)
}

/// True when `error` is a deadlock or a serialization failure, which trying again resolves.
fn deadlocked(error: &Error) -> bool {
    database_error(error)
        .and_then(|e| e.code())
        .is_some_and(|code| code == "40001" || code == "40P01")
}

/// Tries of a transaction that the database rolled back to break a deadlock.
const DEADLOCK_TRIES: usize = 5;

/// Runs the transaction `attempt` makes, and again while the database rolls it back to break a
/// deadlock (up to [`DEADLOCK_TRIES`] tries): nothing of a rolled-back try stays, and which of
/// two transactions loses is the database's choice, not a failure of the call.
pub(crate) async fn again_after_deadlocks<T, Fut>(mut attempt: impl FnMut() -> Fut) -> Result<T>
where
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(e) if deadlocked(&e) && tries < DEADLOCK_TRIES => tries += 1,
            other => return other,
        }
    }
}

/// True when `error` is a concurrent change that trying again resolves: a unique index broken
/// by an insert between a read and a write, a deadlock or a serialization failure.
pub(crate) fn raced(error: &Error) -> bool {
    deadlocked(error) || database_error(error).is_some_and(|e| e.is_unique_violation())
}

/// A driver error of statement `q` as a store error.
fn failed(q: Q) -> impl Fn(sqlx::Error) -> Error {
    move |e| Error::store(format!("the statement {} failed", q.name()), e)
}

impl Inner {
    /// Runs statement `q` on a pooled connection; its rows.
    pub(crate) async fn rows(&self, q: Q, args: &[(&str, Param<'_>)]) -> Result<Vec<Row>> {
        let (sql, params) = self.queries.prepare(q, args)?;
        self.engine.fetch(sql, &params).await.map_err(failed(q))
    }

    /// Runs statement `q` on a pooled connection; the rows it changed.
    pub(crate) async fn run(&self, q: Q, args: &[(&str, Param<'_>)]) -> Result<u64> {
        let (sql, params) = self.queries.prepare(q, args)?;
        self.engine.execute(sql, &params).await.map_err(failed(q))
    }

    /// Runs statement `q` for the row with id `id`; its rows.
    pub(crate) async fn rows_of(&self, q: Q, id: &str) -> Result<Vec<Row>> {
        self.rows(q, &[("id", Param::Text(id))]).await
    }

    /// Opens a write transaction.
    pub(crate) async fn begin(&self) -> Result<Tx<'_>> {
        let session = self
            .engine
            .begin()
            .await
            .map_err(|e| Error::store("cannot begin a transaction", e))?;
        Ok(Tx {
            queries: &self.queries,
            session,
        })
    }
}

/// A write transaction running the store's statements; dropped uncommitted, it rolls back.
pub(crate) struct Tx<'s> {
    queries: &'s Queries,
    session: Box<dyn Session + 's>,
}

impl<'s> Tx<'s> {
    /// The store's statements in `session` (e.g. one on a connection the caller lends).
    pub(crate) fn new(queries: &'s Queries, session: Box<dyn Session + 's>) -> Self {
        Self { queries, session }
    }

    /// Runs statement `q`; its rows.
    pub(crate) async fn rows(&mut self, q: Q, args: &[(&str, Param<'_>)]) -> Result<Vec<Row>> {
        let (sql, params) = self.queries.prepare(q, args)?;
        self.session.fetch(sql, &params).await.map_err(failed(q))
    }

    /// Runs statement `q`; the rows it changed.
    pub(crate) async fn run(&mut self, q: Q, args: &[(&str, Param<'_>)]) -> Result<u64> {
        let (sql, params) = self.queries.prepare(q, args)?;
        self.session.execute(sql, &params).await.map_err(failed(q))
    }

    /// Commits.
    pub(crate) async fn commit(self) -> Result<()> {
        self.session
            .commit()
            .await
            .map_err(|e| Error::store("cannot commit a transaction", e))
    }

    /// Rolls back now.
    pub(crate) async fn rollback(self) -> Result<()> {
        self.session
            .rollback()
            .await
            .map_err(|e| Error::store("cannot roll back a transaction", e))
    }
}

/// Where a change's statements run: each on a pooled connection of its own, or all in one
/// transaction.
#[async_trait]
pub(crate) trait Run: Send {
    /// Runs statement `q`; its rows.
    async fn rows(&mut self, q: Q, args: &[(&str, Param<'_>)]) -> Result<Vec<Row>>;
}

#[async_trait]
impl Run for &Inner {
    async fn rows(&mut self, q: Q, args: &[(&str, Param<'_>)]) -> Result<Vec<Row>> {
        Inner::rows(self, q, args).await
    }
}

#[async_trait]
impl Run for Tx<'_> {
    async fn rows(&mut self, q: Q, args: &[(&str, Param<'_>)]) -> Result<Vec<Row>> {
        Tx::rows(self, q, args).await
    }
}

/// Arguments followed by more.
pub(crate) fn with<'a>(
    mut args: Args<'a>,
    more: impl IntoIterator<Item = (&'static str, Param<'a>)>,
) -> Args<'a> {
    args.extend(more);
    args
}
