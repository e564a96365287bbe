//! Preparing the database of a run: the harness owns the database it is pointed at and
//! starts from empty tables (or collections) of the store with the default names.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use mongodb::Client;
use sqlx::postgres::PgPoolOptions;

use crate::exec_log::{sqlite_path, TABLE};

/// Tables of an SQL store with the default prefix and schema, and the execution log.
const SQL_TABLES: [&str; 5] = [
    "remote_errors",
    "remote_jobs",
    "remote_items",
    "remote_migrations",
    TABLE,
];

/// Collections of a MongoDB store with the default names, and the execution log.
const MONGO_COLLECTIONS: [&str; 3] = ["rjobs", "rscheduler", TABLE];

/// Drops what an earlier run left in the database `url` names: the store's tables or
/// collections (default names) and the execution log; an SQLite file is deleted.
pub async fn wipe(url: &str) -> Result<()> {
    let scheme = url.split(':').next().unwrap_or_default();
    match scheme {
        "postgres" | "postgresql" => {
            let pool = PgPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await
                .with_context(|| format!("connecting to {}", remote_cli::store::redact(url)))?;
            let tables = SQL_TABLES
                .iter()
                .map(|t| format!("public.{t}"))
                .collect::<Vec<_>>()
                .join(", ");
            sqlx::query(&format!("DROP TABLE IF EXISTS {tables} CASCADE"))
                .execute(&pool)
                .await?;
            pool.close().await;
        }
        "sqlite" => {
            let Some(path) = sqlite_path(url) else {
                bail!("the torture test needs an SQLite file shared by processes, not {url}");
            };
            for suffix in ["", "-wal", "-shm"] {
                let file = format!("{path}{suffix}");
                match std::fs::remove_file(&file) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e).with_context(|| format!("removing {file}")),
                }
            }
        }
        "mongodb" | "mongodb+srv" => {
            let client = Client::with_uri_str(url).await.context("MongoDB URL")?;
            let database = client.database(&remote_cli::store::mongo_database(url));
            for name in MONGO_COLLECTIONS {
                database
                    .collection::<mongodb::bson::Document>(name)
                    .drop()
                    .await
                    .with_context(|| format!("dropping {name}"))?;
            }
        }
        _ => bail!("unsupported store URL for the torture test: {url}"),
    }
    Ok(())
}
