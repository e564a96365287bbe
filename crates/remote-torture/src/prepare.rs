//! Preparing the database of a run: the harness owns the database it is pointed at and
//! starts from empty tables (collections, keys) of the store, under the URL's `prefix=` (and
//! PostgreSQL `schema=`) or the default names: every table or collection whose name starts
//! with the prefix is dropped, whatever tables the store's migrations have added.

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use mongodb::Client;
use remote_cli::store::{StoreKind, StoreUrl};
use remote_redis::{RedisOptions, RedisStore};
use remote_sql::{DEFAULT_SCHEMA, DEFAULT_TABLE_PREFIX};
use sqlx::mysql::MySqlPoolOptions;
use sqlx::postgres::PgPoolOptions;

use crate::exec_log::{sqlite_path, TABLE};

/// The names among `names` that start with `prefix`, and the execution log's.
fn owned<'n>(names: &'n [String], prefix: &str) -> Vec<&'n String> {
    names
        .iter()
        .filter(|n| n.starts_with(prefix) || n.as_str() == TABLE)
        .collect()
}

/// Drops what an earlier run left in the database `url` names: the store's tables,
/// collections or keys and the execution log; an SQLite file is deleted.
pub async fn wipe(url: &str) -> Result<()> {
    let parsed = StoreUrl::parse(url).map_err(|e| anyhow!("{}", e.message))?;
    let driver_url = parsed.driver_url.as_str();
    let display = &parsed.display;
    match parsed.kind {
        StoreKind::Postgres => {
            let pool = PgPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(10))
                .connect(driver_url)
                .await
                .with_context(|| format!("connecting to {display}"))?;
            let schema = parsed.schema.as_deref().unwrap_or(DEFAULT_SCHEMA);
            let prefix = parsed.prefix.as_deref().unwrap_or(DEFAULT_TABLE_PREFIX);
            let names: Vec<String> = sqlx::query_scalar(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1",
            )
            .bind(schema)
            .fetch_all(&pool)
            .await?;
            let mut tables: Vec<String> = owned(&names, prefix)
                .into_iter()
                .filter(|t| t.as_str() != TABLE)
                .map(|t| format!("\"{schema}\".\"{t}\""))
                .collect();
            tables.push(format!("public.{TABLE}"));
            sqlx::query(&format!(
                "DROP TABLE IF EXISTS {} CASCADE",
                tables.join(", ")
            ))
            .execute(&pool)
            .await?;
            pool.close().await;
        }
        StoreKind::MySql => {
            let pool = MySqlPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(10))
                .connect(driver_url)
                .await
                .with_context(|| format!("connecting to {display}"))?;
            let prefix = parsed.prefix.as_deref().unwrap_or(DEFAULT_TABLE_PREFIX);
            let names: Vec<Vec<u8>> = sqlx::query_scalar(
                "SELECT CAST(table_name AS BINARY) FROM information_schema.tables \
                 WHERE table_schema = DATABASE()",
            )
            .fetch_all(&pool)
            .await?;
            let names: Vec<String> = names
                .into_iter()
                .filter_map(|n| String::from_utf8(n).ok())
                .collect();
            // One connection, so the setting holds for the drops: error records refer to jobs.
            sqlx::query("SET FOREIGN_KEY_CHECKS = 0")
                .execute(&pool)
                .await?;
            for table in owned(&names, prefix) {
                sqlx::query(&format!("DROP TABLE IF EXISTS `{table}`"))
                    .execute(&pool)
                    .await?;
            }
            pool.close().await;
        }
        StoreKind::Sqlite => {
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
        StoreKind::Mongo => {
            let client = Client::with_uri_str(driver_url)
                .await
                .context("MongoDB URL")?;
            let database = client.database(&remote_cli::store::mongo_database(driver_url));
            let prefix = parsed.prefix.as_deref().unwrap_or("r");
            let names = database
                .list_collection_names()
                .await
                .context("listing the collections")?;
            for name in owned(&names, prefix) {
                database
                    .collection::<mongodb::bson::Document>(name)
                    .drop()
                    .await
                    .with_context(|| format!("dropping {name}"))?;
            }
        }
        StoreKind::Redis => {
            let mut options = RedisOptions {
                wakeups: false,
                ..RedisOptions::default()
            };
            if let Some(prefix) = &parsed.prefix {
                options.prefix = prefix.clone();
            }
            let store = RedisStore::connect_with(driver_url, options)
                .await
                .with_context(|| format!("connecting to {display}"))?;
            store.clear().await?;
            let _: i64 = remote_redis::redis::cmd("DEL")
                .arg(TABLE)
                .query_async(&mut store.connection())
                .await?;
        }
        StoreKind::Memory => {
            bail!("the torture test needs a store shared by processes, not {url}")
        }
    }
    Ok(())
}
