//! The PostgreSQL dialect: times as `timestamptz`, lists as arrays, every change one statement
//! (batches `unnest` their entries' arrays; a failure's record is appended by a data-modifying
//! CTE of the same statement), claims `FOR UPDATE SKIP LOCKED`.
//!
//! Adding jobs sends `pg_notify` on the store's channel in the same statement; a background
//! task LISTENs on it and wakes this process's idle workers through `JobStore::wakeups`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use remote_core::Result;
use serde_json::Value;
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions, PgQueryResult, PgRow};
use sqlx::types::Json;
use sqlx::Postgres;
use tokio::sync::Notify;

use crate::config::{SqlOptions, Tables};
use crate::dialect::{Batches, Dialect};
use crate::engine::{bind_portable, get, utf8, Driver, Param, Pooled, Query, Wake};

/// Pool size of a store opened from a URL.
const DEFAULT_MAX_CONNECTIONS: u32 = 5;
/// First and longest pause before the listener reconnects.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

impl Driver for Postgres {
    const DIALECT: Dialect = Dialect::new("PostgreSQL", "postgres")
        .with_schemas()
        .batches(Batches::OneStatement)
        .checked_inserts()
        .vacuums();

    fn affected(done: &PgQueryResult) -> u64 {
        done.rows_affected()
    }

    fn bind<'q>(query: Query<'q, Self>, param: &'q Param<'q>) -> Query<'q, Self> {
        let bytes = |text: &Option<&'q str>| text.map(str::as_bytes);
        match param {
            Param::Time(t) => query.bind(*t),
            Param::OptTime(t) => query.bind(*t),
            Param::OptFree(v) => query.bind(bytes(v)),
            Param::Texts(v) => query.bind(v.as_slice()),
            Param::OptTexts(v) => query.bind(v.as_slice()),
            Param::Ints(v) => query.bind(v.as_slice()),
            Param::OptInts(v) => query.bind(v.as_slice()),
            Param::Times(v) => query.bind(v.as_slice()),
            Param::OptTimes(v) => query.bind(v.as_slice()),
            Param::OptFrees(v) => query.bind(v.iter().map(bytes).collect::<Vec<_>>()),
            scalar => bind_portable(query, scalar),
        }
    }

    /// Integers of any width (`smallint` priorities and bits, `integer` counts, `bigint`).
    fn int(row: &PgRow, column: &str) -> Result<Option<i64>> {
        use sqlx::{Column, Row, TypeInfo};
        let width = row.try_column(column).map(|c| c.type_info().name());
        match width {
            Ok("INT2") => get::<i16, _>(row, column).map(|v| v.map(i64::from)),
            Ok("INT4") => get::<i32, _>(row, column).map(|v| v.map(i64::from)),
            _ => get(row, column),
        }
    }

    fn time(row: &PgRow, column: &str) -> Result<Option<DateTime<Utc>>> {
        get(row, column)
    }

    fn json(row: &PgRow, column: &str) -> Result<Option<Value>> {
        get::<Json<Value>, _>(row, column).map(|v| v.map(|Json(v)| v))
    }

    fn free_text(row: &PgRow, column: &str) -> Result<Option<String>> {
        utf8(get(row, column)?, column)
    }
}

/// Opens a pool on `url`.
pub(crate) async fn connect(url: &str, options: &SqlOptions) -> Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(options.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS))
        .connect(url)
        .await
        .map_err(|e| remote_core::Error::store("cannot connect to PostgreSQL", e))
}

/// The engine on `pool`; starts the listener when the options ask for it.
pub(crate) async fn engine(pool: PgPool, options: &SqlOptions) -> Result<Pooled<Postgres>> {
    let mut engine = Pooled::new(pool);
    if options.listen {
        let channel = Tables::new(options, &Postgres::DIALECT).channel;
        engine.wake = Some(listen(&engine.pool, &channel).await?);
    }
    Ok(engine)
}

/// Subscribes to `channel` on a connection of its own and relays notifications.
async fn listen(pool: &PgPool, channel: &str) -> Result<Wake> {
    let listen_pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_lazy_with((*pool.connect_options()).clone());
    let first = subscribe(&listen_pool, channel)
        .await
        .map_err(|e| remote_core::Error::store("cannot LISTEN for new jobs", e))?;
    let notify = Arc::new(Notify::new());
    let task = tokio::spawn(relay(
        listen_pool,
        channel.to_owned(),
        first,
        notify.clone(),
    ));
    Ok(Wake { notify, task })
}

async fn subscribe(pool: &PgPool, channel: &str) -> sqlx::Result<PgListener> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(channel).await?;
    Ok(listener)
}

/// Wakes every idle worker now, and the next one to idle (it may have missed the job).
fn wake_all(wake: &Notify) {
    wake.notify_waiters();
    wake.notify_one();
}

/// The listener loop: wakes on every notification; reconnects with backoff when the
/// connection fails, waking once after each reconnect since notifications may have been missed.
async fn relay(pool: PgPool, channel: String, first: PgListener, wake: Arc<Notify>) {
    let mut listener = Some(first);
    let mut backoff = MIN_BACKOFF;
    loop {
        let mut current = match listener.take() {
            Some(current) => current,
            None => match subscribe(&pool, &channel).await {
                Ok(current) => {
                    tracing::info!(channel, "listening for new jobs again");
                    backoff = MIN_BACKOFF;
                    wake_all(&wake);
                    current
                }
                Err(error) => {
                    tracing::warn!(%error, channel, ?backoff, "cannot LISTEN for new jobs; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            },
        };
        loop {
            match current.try_recv().await {
                Ok(_) => wake_all(&wake),
                Err(error) => {
                    tracing::warn!(%error, channel, "lost the LISTEN connection; reconnecting");
                    break;
                }
            }
        }
        drop(current);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
