//! The execution log: one row per handler run, written by the handler into the database of
//! the store under test (table, collection or hash `torture_exec`), so it survives the worker.
//!
//! Each row carries a random id chosen before the first write, and a retried write of the
//! same row is ignored by the database, so a write retried after a lost connection never
//! counts one execution twice.

use std::str::FromStr;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use mongodb::bson::{doc, Document};
use mongodb::{Client, Collection};
use remote_cli::store::{StoreKind, StoreUrl};
use remote_redis::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use sqlx::mysql::{MySqlPool, MySqlPoolOptions};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::Row;

use crate::checks::Execution;

/// Name of the table, collection or Redis hash holding executions.
pub const TABLE: &str = "torture_exec";

/// Where executions are recorded.
#[derive(Clone)]
pub enum ExecLog {
    /// A PostgreSQL table.
    Postgres(PgPool),
    /// An SQLite table in the store's file.
    Sqlite(SqlitePool),
    /// A MariaDB/MySQL table in the store's database.
    MySql(MySqlPool),
    /// A MongoDB collection in the store's database.
    Mongo(Collection<Document>),
    /// A Redis hash on the store's server: row id → `job_id attempt pid`.
    Redis(ConnectionManager),
}

impl std::fmt::Debug for ExecLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Postgres(_) => "ExecLog::Postgres",
            Self::Sqlite(_) => "ExecLog::Sqlite",
            Self::MySql(_) => "ExecLog::MySql",
            Self::Mongo(_) => "ExecLog::Mongo",
            Self::Redis(_) => "ExecLog::Redis",
        })
    }
}

/// One execution about to be recorded.
#[derive(Clone, Debug)]
pub struct Record {
    /// Random id of the row, fixed across retries of the write.
    pub id: i64,
    /// The job.
    pub job_id: String,
    /// Its attempt number.
    pub attempt: u32,
    /// The worker's process id.
    pub pid: u32,
    /// When the handler started.
    pub started_at: DateTime<Utc>,
}

/// The SQLite file a `sqlite:` URL names (`None` for an in-memory database).
pub fn sqlite_path(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.contains(":memory:")).then(|| path.to_string())
}

impl ExecLog {
    /// Opens the log in the database a store URL names (the table is created by [`reset`](Self::reset)).
    pub async fn open(url: &str) -> Result<Self> {
        let parsed = StoreUrl::parse(url).map_err(|e| anyhow::anyhow!("{}", e.message))?;
        let driver_url = parsed.driver_url.as_str();
        match parsed.kind {
            StoreKind::Postgres => {
                let pool = PgPoolOptions::new()
                    .max_connections(4)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect_lazy(driver_url)
                    .context("PostgreSQL URL")?;
                Ok(Self::Postgres(pool))
            }
            StoreKind::MySql => {
                let pool = MySqlPoolOptions::new()
                    .max_connections(4)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect_lazy(driver_url)
                    .context("MySQL URL")?;
                Ok(Self::MySql(pool))
            }
            StoreKind::Sqlite => {
                let Some(path) = sqlite_path(url) else {
                    bail!("the torture test needs an SQLite file shared by processes, not {url}");
                };
                let options = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .busy_timeout(Duration::from_secs(30));
                let pool = SqlitePoolOptions::new()
                    .max_connections(2)
                    .connect_lazy_with(options);
                Ok(Self::Sqlite(pool))
            }
            StoreKind::Mongo => {
                let client = Client::with_uri_str(driver_url)
                    .await
                    .context("MongoDB URL")?;
                let database = remote_cli::store::mongo_database(driver_url);
                Ok(Self::Mongo(client.database(&database).collection(TABLE)))
            }
            StoreKind::Redis => {
                let client = remote_redis::redis::Client::open(driver_url).context("Redis URL")?;
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(Duration::from_secs(5)))
                    .set_response_timeout(Some(Duration::from_secs(10)))
                    .set_max_delay(Duration::from_secs(2));
                let conn = ConnectionManager::new_with_config(client, config)
                    .await
                    .context("connecting to Redis")?;
                Ok(Self::Redis(conn))
            }
            StoreKind::Memory => {
                bail!("the torture test needs a store shared by processes, not {url}")
            }
        }
    }

    /// Creates the table if needed and deletes every row.
    pub async fn reset(&self) -> Result<()> {
        match self {
            Self::Postgres(pool) => {
                sqlx::query(&format!(
                    "CREATE TABLE IF NOT EXISTS {TABLE} (id BIGINT PRIMARY KEY, job_id TEXT NOT NULL, \
                     attempt INTEGER NOT NULL, pid INTEGER NOT NULL, started_at TIMESTAMPTZ NOT NULL)"
                ))
                .execute(pool)
                .await?;
                sqlx::query(&format!("DELETE FROM {TABLE}"))
                    .execute(pool)
                    .await?;
            }
            Self::Sqlite(pool) => {
                sqlx::query(&format!(
                    "CREATE TABLE IF NOT EXISTS {TABLE} (id INTEGER PRIMARY KEY, job_id TEXT NOT NULL, \
                     attempt INTEGER NOT NULL, pid INTEGER NOT NULL, started_at TEXT NOT NULL)"
                ))
                .execute(pool)
                .await?;
                sqlx::query(&format!("DELETE FROM {TABLE}"))
                    .execute(pool)
                    .await?;
            }
            Self::MySql(pool) => {
                sqlx::query(&format!(
                    "CREATE TABLE IF NOT EXISTS {TABLE} (id BIGINT PRIMARY KEY, \
                     job_id VARCHAR(24) NOT NULL, attempt INTEGER NOT NULL, pid INTEGER NOT NULL, \
                     started_at BIGINT NOT NULL) ENGINE = InnoDB"
                ))
                .execute(pool)
                .await?;
                sqlx::query(&format!("DELETE FROM {TABLE}"))
                    .execute(pool)
                    .await?;
            }
            Self::Mongo(collection) => collection.drop().await?,
            Self::Redis(conn) => {
                let _: i64 = remote_redis::redis::cmd("DEL")
                    .arg(TABLE)
                    .query_async(&mut conn.clone())
                    .await?;
            }
        }
        Ok(())
    }

    /// Records one execution; a row already recorded under the same id is left as it is.
    pub async fn record(&self, record: &Record) -> Result<()> {
        match self {
            Self::Postgres(pool) => {
                sqlx::query(&format!(
                    "INSERT INTO {TABLE} (id, job_id, attempt, pid, started_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING"
                ))
                .bind(record.id)
                .bind(&record.job_id)
                .bind(i64::from(record.attempt) as i32)
                .bind(record.pid as i32)
                .bind(record.started_at)
                .execute(pool)
                .await?;
            }
            Self::Sqlite(pool) => {
                sqlx::query(&format!(
                    "INSERT INTO {TABLE} (id, job_id, attempt, pid, started_at) \
                     VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"
                ))
                .bind(record.id)
                .bind(&record.job_id)
                .bind(i64::from(record.attempt))
                .bind(i64::from(record.pid))
                .bind(record.started_at.to_rfc3339())
                .execute(pool)
                .await?;
            }
            Self::MySql(pool) => {
                sqlx::query(&format!(
                    "INSERT IGNORE INTO {TABLE} (id, job_id, attempt, pid, started_at) \
                     VALUES (?, ?, ?, ?, ?)"
                ))
                .bind(record.id)
                .bind(&record.job_id)
                .bind(i64::from(record.attempt))
                .bind(i64::from(record.pid))
                .bind(record.started_at.timestamp_millis())
                .execute(pool)
                .await?;
            }
            Self::Redis(conn) => {
                let _: i64 = remote_redis::redis::cmd("HSETNX")
                    .arg(TABLE)
                    .arg(record.id)
                    .arg(format!(
                        "{} {} {}",
                        record.job_id, record.attempt, record.pid
                    ))
                    .query_async(&mut conn.clone())
                    .await?;
            }
            Self::Mongo(collection) => {
                let row = doc! {
                    "_id": record.id,
                    "job_id": &record.job_id,
                    "attempt": i64::from(record.attempt),
                    "pid": i64::from(record.pid),
                    "started_at": mongodb::bson::DateTime::from_millis(record.started_at.timestamp_millis()),
                };
                if let Err(e) = collection.insert_one(row).await {
                    if !is_duplicate_key(&e) {
                        return Err(e.into());
                    }
                }
            }
        }
        Ok(())
    }

    /// Every recorded execution.
    pub async fn all(&self) -> Result<Vec<Execution>> {
        let select = format!("SELECT job_id, attempt, pid FROM {TABLE}");
        match self {
            Self::Postgres(pool) => {
                let rows = sqlx::query(&select).fetch_all(pool).await?;
                rows.iter()
                    .map(|r| {
                        Ok(Execution {
                            job_id: r.try_get("job_id")?,
                            attempt: u32::try_from(r.try_get::<i32, _>("attempt")?)?,
                            pid: u32::try_from(r.try_get::<i32, _>("pid")?)?,
                        })
                    })
                    .collect()
            }
            Self::Sqlite(pool) => {
                let rows = sqlx::query(&select).fetch_all(pool).await?;
                rows.iter()
                    .map(|r| {
                        Ok(Execution {
                            job_id: r.try_get("job_id")?,
                            attempt: u32::try_from(r.try_get::<i64, _>("attempt")?)?,
                            pid: u32::try_from(r.try_get::<i64, _>("pid")?)?,
                        })
                    })
                    .collect()
            }
            Self::MySql(pool) => {
                let rows = sqlx::query(&select).fetch_all(pool).await?;
                rows.iter()
                    .map(|r| {
                        Ok(Execution {
                            job_id: r.try_get("job_id")?,
                            attempt: u32::try_from(r.try_get::<i32, _>("attempt")?)?,
                            pid: u32::try_from(r.try_get::<i32, _>("pid")?)?,
                        })
                    })
                    .collect()
            }
            Self::Redis(conn) => {
                let rows: Vec<String> = remote_redis::redis::cmd("HVALS")
                    .arg(TABLE)
                    .query_async(&mut conn.clone())
                    .await?;
                rows.iter()
                    .map(|row| {
                        let mut fields = row.split(' ');
                        let mut next = || {
                            fields
                                .next()
                                .ok_or_else(|| anyhow::anyhow!("malformed execution {row:?}"))
                        };
                        Ok(Execution {
                            job_id: next()?.to_string(),
                            attempt: next()?.parse()?,
                            pid: next()?.parse()?,
                        })
                    })
                    .collect()
            }
            Self::Mongo(collection) => {
                use futures::TryStreamExt;
                let docs: Vec<Document> = collection.find(doc! {}).await?.try_collect().await?;
                docs.iter()
                    .map(|d| {
                        Ok(Execution {
                            job_id: d.get_str("job_id")?.to_string(),
                            attempt: u32::try_from(d.get_i64("attempt")?)?,
                            pid: u32::try_from(d.get_i64("pid")?)?,
                        })
                    })
                    .collect()
            }
        }
    }
}

fn is_duplicate_key(error: &mongodb::error::Error) -> bool {
    use mongodb::error::{ErrorKind, WriteFailure};
    matches!(
        error.kind.as_ref(),
        ErrorKind::Write(WriteFailure::WriteError(e)) if e.code == 11000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths() {
        assert_eq!(
            sqlite_path("sqlite:///tmp/t.db?mode=rwc").as_deref(),
            Some("/tmp/t.db")
        );
        assert_eq!(sqlite_path("sqlite://t.db").as_deref(), Some("t.db"));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://x"), None);
    }
}
