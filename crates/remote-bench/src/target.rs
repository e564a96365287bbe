//! The store under test and the isolated place each benchmark case runs in: a scratch schema
//! (PostgreSQL), table prefixes in the given database or file (MariaDB/MySQL, SQLite), a scratch
//! database (MongoDB), a key prefix (Redis) or a fresh store (memory). Everything created is
//! removed by [`Target::cleanup`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use remote_core::{JobStore, SchedulerStore};
use remote_memory::MemoryStore;
use remote_mongo::{MongoConfig, MongoStore};
use remote_redis::{RedisOptions, RedisStore};
use remote_sql::{SqlOptions, SqlStore};

use crate::BenchResult;

/// Which backend a store URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `memory:`.
    Memory,
    /// `sqlite://FILE`.
    Sqlite,
    /// `postgres://…` or `postgresql://…`.
    Postgres,
    /// `mysql://…` or `mariadb://…`.
    MySql,
    /// `mongodb://…` or `mongodb+srv://…`.
    Mongo,
    /// `redis://…`.
    Redis,
}

impl Kind {
    /// The backend named by a URL's scheme.
    pub(crate) fn of(url: &str) -> BenchResult<Self> {
        match url.split(':').next().unwrap_or_default() {
            "memory" => Ok(Kind::Memory),
            "sqlite" => Ok(Kind::Sqlite),
            "postgres" | "postgresql" => Ok(Kind::Postgres),
            "mysql" | "mariadb" => Ok(Kind::MySql),
            "mongodb" | "mongodb+srv" => Ok(Kind::Mongo),
            "redis" => Ok(Kind::Redis),
            _ => Err(format!(
                "unsupported store URL '{}': use memory:, sqlite://FILE, postgres://…, \
                 mysql://…, mongodb://… or redis://…",
                redact(url)
            )
            .into()),
        }
    }

    /// Short name of the backend, as reports and charts show it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Memory => "memory",
            Kind::Sqlite => "sqlite",
            Kind::Postgres => "postgres",
            Kind::MySql => "mysql",
            Kind::Mongo => "mongodb",
            Kind::Redis => "redis",
        }
    }
}

/// The URL with the password of its user-info part replaced by `***`.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// The store a run measures.
pub(crate) struct Target {
    /// Which backend.
    pub kind: Kind,
    /// The URL as given.
    pub url: String,
    /// The URL without a password.
    pub display: String,
    run: String,
    cases: AtomicUsize,
    prefixes: Mutex<Vec<String>>,
}

/// One case's own tables (or collections, key prefix, or memory store).
pub(crate) struct Space {
    /// Table, collection or key prefix.
    pub prefix: String,
    memory: Option<Arc<MemoryStore>>,
}

/// How to open a store instance.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Open {
    /// Connections in its pool (SQL stores).
    pub pool: u32,
    /// Whether it listens for jobs added elsewhere (LISTEN/NOTIFY, change streams, pub/sub).
    pub wakeups: bool,
}

/// An opened store instance.
#[derive(Clone)]
pub(crate) struct Opened {
    /// Its job side.
    pub jobs: Arc<dyn JobStore>,
    /// Its scheduler side.
    pub items: Arc<dyn SchedulerStore>,
    /// The SQL store, for SQL backends (its pool and its statements).
    pub sql: Option<SqlStore>,
}

/// The tables among `tables` that belong to one of the cases' `prefixes`.
fn scratch<'t>(tables: &'t [String], prefixes: &[String]) -> Vec<&'t String> {
    tables
        .iter()
        .filter(|t| prefixes.iter().any(|p| t.starts_with(p.as_str())))
        .collect()
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
    pub(crate) fn new(url: &str) -> BenchResult<Self> {
        let kind = Kind::of(url)?;
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
    pub(crate) fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// The name of this run: the scratch PostgreSQL schema, MongoDB database, and the stem of
    /// every other scratch name.
    pub(crate) fn run_name(&self) -> &str {
        &self.run
    }

    /// The URL as the driver opens it: an SQLite file is created when missing, a `mariadb://`
    /// URL is written `mysql://`.
    pub(crate) fn driver_url(&self) -> String {
        match self.kind {
            Kind::Sqlite if !self.url.contains("mode=") && !self.url.contains(":memory:") => {
                let separator = if self.url.contains('?') { '&' } else { '?' };
                format!("{}{separator}mode=rwc", self.url)
            }
            Kind::MySql => match self.url.strip_prefix("mariadb:") {
                Some(rest) => format!("mysql:{rest}"),
                None => self.url.clone(),
            },
            _ => self.url.clone(),
        }
    }

    /// A fresh place for one case.
    pub(crate) fn space(&self) -> Space {
        let n = self.cases.fetch_add(1, Ordering::Relaxed);
        let prefix = match self.kind {
            Kind::Sqlite | Kind::MySql => format!("{}_c{n}_", self.run),
            Kind::Redis => format!("{}_c{n}", self.run),
            _ => format!("c{n}_"),
        };
        self.prefixes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(prefix.clone());
        let memory = (self.kind == Kind::Memory).then(|| Arc::new(MemoryStore::new()));
        Space { prefix, memory }
    }

    /// Opens a store instance (its own pool, client or connection) on a case's place.
    pub(crate) async fn open(&self, space: &Space, open: Open) -> BenchResult<Opened> {
        match self.kind {
            Kind::Memory => {
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
            Kind::Sqlite | Kind::Postgres | Kind::MySql => {
                let store = SqlOptions::new()
                    .schema(&self.run)
                    .table_prefix(&space.prefix)
                    .listen(open.wakeups)
                    .max_connections(open.pool)
                    .busy_timeout(Duration::from_secs(30))
                    .connect(&self.driver_url())
                    .await?;
                let shared = Arc::new(store.clone());
                Ok(Opened {
                    jobs: shared.clone(),
                    items: shared,
                    sql: Some(store),
                })
            }
            Kind::Mongo => {
                let config = MongoConfig::with_prefix(&space.prefix).change_streams(open.wakeups);
                let store = Arc::new(MongoStore::connect_with(&self.url, &self.run, config).await?);
                Ok(Opened {
                    jobs: store.clone(),
                    items: store,
                    sql: None,
                })
            }
            Kind::Redis => {
                let options = RedisOptions {
                    prefix: space.prefix.clone(),
                    wakeups: open.wakeups,
                    ..RedisOptions::default()
                };
                let store = Arc::new(RedisStore::connect_with(&self.url, options).await?);
                Ok(Opened {
                    jobs: store.clone(),
                    items: store,
                    sql: None,
                })
            }
        }
    }

    /// The quoted jobs table of a case, for statements issued without the store.
    pub(crate) fn jobs_table(&self, space: &Space) -> String {
        match self.kind {
            Kind::Postgres => format!("\"{}\".\"{}jobs\"", self.run, space.prefix),
            Kind::MySql => format!("`{}jobs`", space.prefix),
            _ => format!("\"{}jobs\"", space.prefix),
        }
    }

    /// Removes everything this run created: the scratch schema or database, every table under
    /// its cases' prefixes, or its keys.
    pub(crate) async fn cleanup(&self) -> BenchResult<()> {
        let prefixes = self
            .prefixes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        match self.kind {
            Kind::Memory => Ok(()),
            Kind::Postgres => {
                let pool = sqlx::PgPool::connect(&self.url).await?;
                sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.run))
                    .execute(&pool)
                    .await?;
                pool.close().await;
                Ok(())
            }
            Kind::Sqlite => {
                let pool = sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect(&self.driver_url())
                    .await?;
                let tables: Vec<String> =
                    sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
                        .fetch_all(&pool)
                        .await?;
                sqlx::query("PRAGMA foreign_keys = OFF")
                    .execute(&pool)
                    .await?;
                for table in scratch(&tables, &prefixes) {
                    sqlx::query(&format!("DROP TABLE IF EXISTS \"{table}\""))
                        .execute(&pool)
                        .await?;
                }
                pool.close().await;
                Ok(())
            }
            Kind::MySql => {
                let pool = sqlx::mysql::MySqlPoolOptions::new()
                    .max_connections(1)
                    .connect(&self.driver_url())
                    .await?;
                let tables: Vec<Vec<u8>> = sqlx::query_scalar(
                    "SELECT CAST(table_name AS BINARY) FROM information_schema.tables \
                     WHERE table_schema = DATABASE()",
                )
                .fetch_all(&pool)
                .await?;
                let tables: Vec<String> = tables
                    .into_iter()
                    .filter_map(|t| String::from_utf8(t).ok())
                    .collect();
                sqlx::query("SET FOREIGN_KEY_CHECKS = 0")
                    .execute(&pool)
                    .await?;
                for table in scratch(&tables, &prefixes) {
                    sqlx::query(&format!("DROP TABLE IF EXISTS `{table}`"))
                        .execute(&pool)
                        .await?;
                }
                pool.close().await;
                Ok(())
            }
            Kind::Mongo => {
                let client = mongodb::Client::with_uri_str(&self.url).await?;
                client.database(&self.run).drop().await?;
                Ok(())
            }
            Kind::Redis => {
                for prefix in prefixes {
                    let options = RedisOptions {
                        prefix,
                        wakeups: false,
                        ..RedisOptions::default()
                    };
                    RedisStore::connect_with(&self.url, options)
                        .await?
                        .clear()
                        .await?;
                }
                Ok(())
            }
        }
    }
}
