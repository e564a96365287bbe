//! The store under test and the isolated place each benchmark case runs in: a scratch schema
//! (PostgreSQL), table prefixes in the given file (SQLite), a scratch database (MongoDB) or a
//! fresh store (memory). Everything created is removed by [`Target::cleanup`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use remote_cli::store::{redact, sql_url, StoreKind};
use remote_core::{JobStore, SchedulerStore};
use remote_memory::MemoryStore;
use remote_mongo::{MongoConfig, MongoStore};
use remote_sql::{SqlOptions, SqlPool, SqlStore};

use crate::BenchResult;

/// The store a run measures.
pub struct Target {
    /// Which backend.
    pub kind: StoreKind,
    /// The URL as given.
    pub url: String,
    /// The URL without a password.
    pub display: String,
    run: String,
    cases: AtomicUsize,
    prefixes: Mutex<Vec<String>>,
}

/// One case's own tables (or collections, or memory store).
pub struct Space {
    /// Table or collection prefix.
    pub prefix: String,
    memory: Option<Arc<MemoryStore>>,
}

/// How to open a store instance.
#[derive(Clone, Copy, Debug)]
pub struct Open {
    /// Connections in its pool (SQL stores).
    pub pool: u32,
    /// Whether it listens for jobs added elsewhere (LISTEN/NOTIFY, change streams).
    pub wakeups: bool,
}

/// An opened store instance.
#[derive(Clone)]
pub struct Opened {
    /// Its job side.
    pub jobs: Arc<dyn JobStore>,
    /// Its scheduler side.
    pub items: Arc<dyn SchedulerStore>,
    /// Its pool, for SQL stores.
    pub sql: Option<SqlPool>,
}

/// A name of this run: letters, digits and `_`, unique per process.
fn run_name() -> String {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() % 1_000_000);
    format!("remote_bench_{}_{stamp}", std::process::id())
}

impl Target {
    /// The target a URL names.
    pub fn new(url: &str) -> BenchResult<Self> {
        let kind = StoreKind::of(url).map_err(|e| e.message)?;
        Ok(Self {
            kind,
            url: url.to_string(),
            display: redact(url),
            run: run_name(),
            cases: AtomicUsize::new(0),
            prefixes: Mutex::new(Vec::new()),
        })
    }

    /// Short name of the backend.
    pub fn name(&self) -> &'static str {
        match self.kind {
            StoreKind::Memory => "memory",
            StoreKind::Sqlite => "sqlite",
            StoreKind::Postgres => "postgres",
            StoreKind::Mongo => "mongodb",
        }
    }

    /// The scratch PostgreSQL schema of this run.
    pub fn pg_schema(&self) -> &str {
        &self.run
    }

    /// The scratch MongoDB database of this run.
    pub fn mongo_database(&self) -> String {
        self.run.clone()
    }

    /// The SQL URL as sqlx opens it.
    pub fn sql_url(&self) -> String {
        sql_url(&self.url, self.kind)
    }

    /// A fresh place for one case.
    pub fn space(&self) -> Space {
        let n = self.cases.fetch_add(1, Ordering::Relaxed);
        let prefix = match self.kind {
            StoreKind::Sqlite => format!("{}_c{n}_", self.run),
            _ => format!("c{n}_"),
        };
        self.prefixes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(prefix.clone());
        let memory = (self.kind == StoreKind::Memory).then(|| Arc::new(MemoryStore::new()));
        Space { prefix, memory }
    }

    /// Opens a store instance (its own pool or client) on a case's place.
    pub async fn open(&self, space: &Space, open: Open) -> BenchResult<Opened> {
        match self.kind {
            StoreKind::Memory => {
                let store = space
                    .memory
                    .clone()
                    .ok_or("no memory store in this space")?;
                Ok(Opened {
                    jobs: store.clone(),
                    items: store,
                    sql: None,
                })
            }
            StoreKind::Sqlite | StoreKind::Postgres => {
                let store = SqlOptions::new()
                    .schema(self.pg_schema())
                    .table_prefix(&space.prefix)
                    .listen(open.wakeups)
                    .max_connections(open.pool)
                    .busy_timeout(Duration::from_secs(30))
                    .connect(&self.sql_url())
                    .await?;
                let sql = Some(store.pool());
                let store = Arc::new(store) as Arc<SqlStore>;
                Ok(Opened {
                    jobs: store.clone(),
                    items: store,
                    sql,
                })
            }
            StoreKind::Mongo => {
                let config = MongoConfig::with_prefix(&space.prefix).change_streams(open.wakeups);
                let store = Arc::new(MongoStore::connect_with(&self.url, &self.run, config).await?);
                Ok(Opened {
                    jobs: store.clone(),
                    items: store,
                    sql: None,
                })
            }
        }
    }

    /// The quoted jobs table of a case, for statements issued without the store.
    pub fn jobs_table(&self, space: &Space) -> String {
        match self.kind {
            StoreKind::Postgres => format!("\"{}\".\"{}jobs\"", self.run, space.prefix),
            _ => format!("\"{}jobs\"", space.prefix),
        }
    }

    /// Removes everything this run created: the scratch schema or database, or its tables.
    pub async fn cleanup(&self) -> BenchResult<()> {
        match self.kind {
            StoreKind::Memory => Ok(()),
            StoreKind::Postgres => {
                let pool = sqlx::PgPool::connect(&self.sql_url()).await?;
                sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.run))
                    .execute(&pool)
                    .await?;
                pool.close().await;
                Ok(())
            }
            StoreKind::Sqlite => {
                let pool = sqlx::SqlitePool::connect(&self.sql_url()).await?;
                let prefixes = self
                    .prefixes
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone();
                for prefix in prefixes {
                    for table in ["errors", "jobs", "items", "migrations"] {
                        sqlx::query(&format!("DROP TABLE IF EXISTS \"{prefix}{table}\""))
                            .execute(&pool)
                            .await?;
                    }
                }
                pool.close().await;
                Ok(())
            }
            StoreKind::Mongo => {
                let client = mongodb::Client::with_uri_str(&self.url).await?;
                client.database(&self.run).drop().await?;
                Ok(())
            }
        }
    }
}
