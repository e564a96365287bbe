//! [`SqlStore`]: the one public store type, over either dialect.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use remote_core::__private::async_trait;
use remote_core::{
    Claim, Completion, Error, ErrorRecord, Failure, ItemId, Job, JobId, JobQuery, JobStatus,
    JobStore, LeaseToken, Result, SchedulerItem, SchedulerStore, StatusCounts, Store, Take,
};
use serde_json::Value;
use tokio::sync::Notify;

use crate::config::SqlOptions;

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

/// What a dialect adds to the store contract.
#[async_trait]
pub(crate) trait Backend: Store {
    /// Brings the schema up to date.
    async fn migrate(&self) -> Result<()>;
    /// The pool the store runs on.
    fn pool(&self) -> SqlPool;
    /// The database's plan for the claim statement, without running it.
    async fn explain_claim(&self, names: &[String], limit: usize) -> Result<String>;
}

/// A job and scheduler store in PostgreSQL or SQLite; cheap to clone (clones share one pool).
///
/// Open it with [`SqlStore::connect`] or [`SqlStore::from_pool`], or through [`SqlOptions`] for
/// a table prefix, a PostgreSQL schema, or to skip migrations on connect.
#[derive(Clone)]
pub struct SqlStore {
    backend: Arc<dyn Backend>,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("pool", &self.backend.pool())
            .finish()
    }
}

impl SqlStore {
    /// Opens a store on a `postgres://…` or `sqlite://path?mode=rwc` URL with default options.
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
        match scheme {
            #[cfg(feature = "postgres")]
            "postgres" | "postgresql" => {
                let backend = crate::postgres::PgBackend::connect(url, &options).await?;
                Self::open(Arc::new(backend), &options).await
            }
            #[cfg(feature = "sqlite")]
            "sqlite" => {
                let backend = crate::sqlite::SqliteBackend::connect(url, &options).await?;
                Self::open(Arc::new(backend), &options).await
            }
            #[cfg(not(feature = "postgres"))]
            "postgres" | "postgresql" => Err(Error::InvalidInput(
                "remote-sql was built without the 'postgres' feature".to_owned(),
            )),
            #[cfg(not(feature = "sqlite"))]
            "sqlite" => Err(Error::InvalidInput(
                "remote-sql was built without the 'sqlite' feature".to_owned(),
            )),
            _ => Err(Error::InvalidInput(
                "a SQL store URL starts with postgres://, postgresql:// or sqlite:".to_owned(),
            )),
        }
    }

    /// Opens a store on an existing pool with `options`.
    pub async fn from_pool_with(pool: SqlPool, options: SqlOptions) -> Result<Self> {
        options.validate()?;
        let backend: Arc<dyn Backend> = match pool {
            #[cfg(feature = "postgres")]
            SqlPool::Postgres(pool) => {
                Arc::new(crate::postgres::PgBackend::open(pool, &options).await?)
            }
            #[cfg(feature = "sqlite")]
            SqlPool::Sqlite(pool) => Arc::new(crate::sqlite::SqliteBackend::open(pool, &options)),
        };
        Self::open(backend, &options).await
    }

    async fn open(backend: Arc<dyn Backend>, options: &SqlOptions) -> Result<Self> {
        if options.run_migrations {
            backend.migrate().await?;
        }
        Ok(Self { backend })
    }

    /// Brings the schema up to date: runs the embedded migrations not yet recorded, under a
    /// lock, so concurrent and repeated calls are safe.
    pub async fn migrate(&self) -> Result<()> {
        self.backend.migrate().await
    }

    /// The pool the store runs on (a clone sharing its connections).
    pub fn pool(&self) -> SqlPool {
        self.backend.pool()
    }

    /// The database's plan for the claim of up to `limit` jobs named `names`, as text
    /// (`EXPLAIN` / `EXPLAIN QUERY PLAN`; nothing is claimed), to check the claim index is used.
    pub async fn explain_claim(&self, names: &[String], limit: usize) -> Result<String> {
        self.backend.explain_claim(names, limit).await
    }

    /// The id that made an insert of `jobs` break a unique constraint: the first repeated
    /// among them, or else the first stored already. Read only after such a refusal.
    async fn duplicate_id(&self, jobs: &[Job]) -> Result<JobId> {
        let mut seen = HashSet::with_capacity(jobs.len());
        if let Some(job) = jobs.iter().find(|job| !seen.insert(&job.id)) {
            return Ok(job.id.clone());
        }
        for job in jobs {
            if self.backend.get_job(&job.id).await?.is_some() {
                return Ok(job.id.clone());
            }
        }
        Err(Error::store_msg(
            "a unique constraint refused the jobs, yet none of their ids is stored",
        ))
    }
}

/// True when a store error comes from a unique constraint of the database.
fn unique_violation(error: &Error) -> bool {
    std::error::Error::source(error)
        .and_then(|source| source.downcast_ref::<sqlx::Error>())
        .and_then(sqlx::Error::as_database_error)
        .is_some_and(|database| database.is_unique_violation())
}

#[async_trait]
impl JobStore for SqlStore {
    async fn insert_jobs(&self, jobs: &[Job]) -> Result<()> {
        match self.backend.insert_jobs(jobs).await {
            Err(e) if unique_violation(&e) => Err(Error::JobExists(self.duplicate_id(jobs).await?)),
            other => other,
        }
    }

    async fn claim_jobs(&self, claim: &Claim<'_>) -> Result<Vec<Job>> {
        self.backend.claim_jobs(claim).await
    }

    async fn complete_job(
        &self,
        id: &JobId,
        token: LeaseToken,
        output: &Value,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        self.backend.complete_job(id, token, output, now).await
    }

    async fn complete_jobs(&self, completions: &[Completion]) -> Result<Vec<bool>> {
        self.backend.complete_jobs(completions).await
    }

    async fn fail_job(&self, id: &JobId, token: LeaseToken, failure: &Failure) -> Result<bool> {
        self.backend.fail_job(id, token, failure).await
    }

    async fn renew_lease(
        &self,
        id: &JobId,
        token: LeaseToken,
        lease_until: DateTime<Utc>,
    ) -> Result<bool> {
        self.backend.renew_lease(id, token, lease_until).await
    }

    async fn expired_leases(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Job>> {
        self.backend.expired_leases(now, limit).await
    }

    async fn cancel_job(&self, id: &JobId, now: DateTime<Utc>) -> Result<Option<JobStatus>> {
        self.backend.cancel_job(id, now).await
    }

    async fn get_job(&self, id: &JobId) -> Result<Option<Job>> {
        self.backend.get_job(id).await
    }

    async fn job_errors(&self, id: &JobId) -> Result<Option<Vec<ErrorRecord>>> {
        self.backend.job_errors(id).await
    }

    async fn list_jobs(&self, query: &JobQuery) -> Result<Vec<Job>> {
        self.backend.list_jobs(query).await
    }

    async fn count_jobs(&self) -> Result<StatusCounts> {
        self.backend.count_jobs().await
    }

    async fn remove_jobs(&self, statuses: &[JobStatus]) -> Result<StatusCounts> {
        self.backend.remove_jobs(statuses).await
    }

    fn wakeups(&self) -> Option<Arc<Notify>> {
        self.backend.wakeups()
    }
}

#[async_trait]
impl SchedulerStore for SqlStore {
    async fn insert_item(&self, item: &SchedulerItem) -> Result<()> {
        self.backend.insert_item(item).await
    }

    async fn get_item(&self, id: &ItemId) -> Result<Option<SchedulerItem>> {
        self.backend.get_item(id).await
    }

    async fn list_items(&self) -> Result<Vec<SchedulerItem>> {
        self.backend.list_items().await
    }

    async fn update_item(&self, item: &SchedulerItem) -> Result<bool> {
        self.backend.update_item(item).await
    }

    async fn delete_item(&self, id: &ItemId) -> Result<bool> {
        self.backend.delete_item(id).await
    }

    async fn due_items(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<SchedulerItem>> {
        self.backend.due_items(now, limit).await
    }

    async fn take_item(&self, take: &Take) -> Result<bool> {
        self.backend.take_item(take).await
    }
}
