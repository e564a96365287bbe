//! Transactional enqueue (R32): jobs added through the application's own connection, inside its
//! transaction, so that workers see them only once it commits and never if it rolls back.

use remote_core::{Error, Inserted, Job, Result};

use crate::store::SqlStore;

/// A connection of the application on which [`SqlStore::insert_jobs_in`] adds jobs: a plain
/// connection, one taken from a pool, or an open transaction (`&mut tx` or `&mut *tx`).
#[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
#[derive(Debug)]
#[non_exhaustive]
pub enum SqlConnection<'c> {
    /// A PostgreSQL connection (feature `postgres`).
    #[cfg(feature = "postgres")]
    Postgres(&'c mut sqlx::PgConnection),
    /// An SQLite connection (feature `sqlite`).
    #[cfg(feature = "sqlite")]
    Sqlite(&'c mut sqlx::SqliteConnection),
    /// A MariaDB or MySQL connection (feature `mysql`).
    #[cfg(feature = "mysql")]
    MySql(&'c mut sqlx::MySqlConnection),
}

/// The `From` conversions of one driver's connection, transaction and pooled connection.
macro_rules! connections {
    ($feature:literal, $variant:ident, $db:ty, $conn:ty) => {
        #[cfg(feature = $feature)]
        impl<'c> From<&'c mut $conn> for SqlConnection<'c> {
            fn from(conn: &'c mut $conn) -> Self {
                SqlConnection::$variant(conn)
            }
        }

        #[cfg(feature = $feature)]
        impl<'c> From<&'c mut sqlx::Transaction<'_, $db>> for SqlConnection<'c> {
            fn from(tx: &'c mut sqlx::Transaction<'_, $db>) -> Self {
                SqlConnection::$variant(&mut **tx)
            }
        }

        #[cfg(feature = $feature)]
        impl<'c> From<&'c mut sqlx::pool::PoolConnection<$db>> for SqlConnection<'c> {
            fn from(conn: &'c mut sqlx::pool::PoolConnection<$db>) -> Self {
                SqlConnection::$variant(&mut **conn)
            }
        }
    };
}

connections!("postgres", Postgres, sqlx::Postgres, sqlx::PgConnection);
connections!("sqlite", Sqlite, sqlx::Sqlite, sqlx::SqliteConnection);
connections!("mysql", MySql, sqlx::MySql, sqlx::MySqlConnection);

#[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
impl SqlStore {
    /// Adds jobs through the application's own connection, inside its transaction (R32): the
    /// jobs are visible to workers only once that transaction commits, and gone if it rolls
    /// back. On PostgreSQL the NOTIFY that wakes idle workers is sent at the commit too.
    ///
    /// Build the jobs with [`Processor::prepare_job`](remote_core::Processor::prepare_job),
    /// which gives them their factory's defaults. Answers as
    /// [`JobStore::insert_jobs`](remote_core::JobStore::insert_jobs) does with
    /// [`OnConflict::Refuse`](remote_core::OnConflict::Refuse): an id stored already is
    /// [`Error::JobExists`] and adds nothing, a job whose unique key is held is
    /// [`Inserted::Duplicate`]. The store works in a savepoint of the transaction and rolls it
    /// back when it fails, so the transaction can go on after an error.
    ///
    /// The connection must reach the store's database (and, on PostgreSQL, see its schema);
    /// the store's table prefix and schema apply. A transaction begun through sqlx (`begin`)
    /// nests the store's savepoint in it; on MySQL run it at `READ COMMITTED`, as the store runs
    /// its own, so that it sees a key taken by a transaction that committed after it began.
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")]
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use remote_core::{
    ///     handler_fn, JobContext, JobError, JobFactory, JobOptions, JobStore, Processor,
    /// };
    /// use remote_sql::{sqlx, SqlPool, SqlStore};
    /// use serde_json::json;
    ///
    /// let store = SqlStore::connect("sqlite::memory:").await?;
    /// let processor = Processor::new(store.clone());
    /// processor.register(JobFactory::new(
    ///     "welcome",
    ///     handler_fn(|ctx: JobContext| async move { Ok::<_, JobError>(ctx.input) }),
    /// ))?;
    /// let SqlPool::Sqlite(pool) = store.pool() else { unreachable!() };
    /// sqlx::query("CREATE TABLE users (name TEXT)").execute(&pool).await?;
    ///
    /// // The user and the job to welcome them commit together…
    /// let mut tx = pool.begin().await?;
    /// sqlx::query("INSERT INTO users (name) VALUES ('ada')").execute(&mut *tx).await?;
    /// let job = processor.prepare_job("welcome", json!({"user": "ada"}), JobOptions::new())?;
    /// let added = store.insert_jobs_in(&mut tx, &[job.clone()]).await?;
    /// assert!(added[0].is_stored());
    /// tx.commit().await?;
    /// assert!(store.get_job(&job.id).await?.is_some());
    ///
    /// // …or not at all.
    /// let mut tx = pool.begin().await?;
    /// sqlx::query("INSERT INTO users (name) VALUES ('bob')").execute(&mut *tx).await?;
    /// let job = processor.prepare_job("welcome", json!({"user": "bob"}), JobOptions::new())?;
    /// store.insert_jobs_in(&mut tx, &[job.clone()]).await?;
    /// tx.rollback().await?;
    /// assert!(store.get_job(&job.id).await?.is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn insert_jobs_in<'c>(
        &self,
        conn: impl Into<SqlConnection<'c>>,
        jobs: &[Job],
    ) -> Result<Vec<Inserted>> {
        let inner = &self.inner;
        let dialect = inner.engine.dialect().name;
        let wrong = |given: &str| {
            Error::InvalidInput(format!(
                "a {given} connection cannot add jobs to a {dialect} store"
            ))
        };
        match conn.into() {
            #[cfg(feature = "postgres")]
            SqlConnection::Postgres(conn) => {
                same::<sqlx::Postgres>(dialect).map_err(wrong)?;
                inner.insert_on::<sqlx::Postgres>(conn, jobs, false).await
            }
            #[cfg(feature = "sqlite")]
            SqlConnection::Sqlite(conn) => {
                same::<sqlx::Sqlite>(dialect).map_err(wrong)?;
                inner.insert_on::<sqlx::Sqlite>(conn, jobs, false).await
            }
            #[cfg(feature = "mysql")]
            SqlConnection::MySql(conn) => {
                same::<sqlx::MySql>(dialect).map_err(wrong)?;
                inner.insert_on::<sqlx::MySql>(conn, jobs, false).await
            }
        }
    }
}

/// `Ok` when the store's dialect is `DB`'s, else the name of `DB`'s.
fn same<DB: crate::engine::Driver>(store: &str) -> std::result::Result<(), &'static str> {
    if DB::DIALECT.name == store {
        Ok(())
    } else {
        Err(DB::DIALECT.name)
    }
}
