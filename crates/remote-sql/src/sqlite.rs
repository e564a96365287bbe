//! The SQLite dialect: times as integer milliseconds, lists as JSON text (`json_each`), claims
//! one `UPDATE … RETURNING`, batches one `BEGIN IMMEDIATE` transaction running one statement
//! over the entries as JSON rows.
//!
//! A file is opened in WAL mode with a busy timeout, `:memory:` on one connection (so the
//! database lives as long as the pool). `BEGIN IMMEDIATE` takes the file's write lock up front,
//! so every change is atomic across connections and across processes sharing the file. Within
//! a process the store queues its writes itself (the dialect's `one_writer`): SQLite's busy
//! handler waits for the lock by sleeping, so concurrent writers of one process left the file
//! idle between them.

use std::str::FromStr;
use std::time::Duration;

use remote_core::{Error, Result};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteQueryResult,
    SqliteSynchronous,
};
use sqlx::Sqlite;

use crate::config::SqlOptions;
use crate::dialect::{Batches, Dialect};
use crate::engine::{bind_portable, Driver, Param, Query};

/// Pool size of a file store opened from a URL.
const DEFAULT_MAX_CONNECTIONS: u32 = 5;

impl Driver for Sqlite {
    const DIALECT: Dialect = Dialect::new("SQLite", "sqlite")
        .begin("BEGIN IMMEDIATE")
        .batches(Batches::Rows)
        .one_writer()
        .explain("EXPLAIN QUERY PLAN", "detail");

    fn affected(done: &SqliteQueryResult) -> u64 {
        done.rows_affected()
    }

    fn bind<'q>(query: Query<'q, Self>, param: &'q Param<'q>) -> Query<'q, Self> {
        bind_portable(query, param)
    }
}

/// Rows a connection's thread may hand over before it waits for them to be taken: enough for
/// a whole claim, whose `UPDATE … RETURNING` holds the file's write lock until its last row
/// is handed over (sqlx's default, 50, kept it held while the worker took the rest).
const ROW_BUFFER: usize = 4096;

/// Opens a pool on `url` (WAL and a busy timeout for files; one connection for `:memory:`).
pub(crate) async fn connect(url: &str, options: &SqlOptions) -> Result<SqlitePool> {
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    let mut connect = SqliteConnectOptions::from_str(url)
        .map_err(|e| Error::store("invalid SQLite URL", e))?
        .busy_timeout(options.busy_timeout)
        .foreign_keys(true)
        .row_buffer_size(ROW_BUFFER);
    let pool = if in_memory {
        SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
    } else {
        connect = connect
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
        SqlitePoolOptions::new()
            .max_connections(options.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS))
    };
    let pool = pool.acquire_timeout(options.busy_timeout.max(Duration::from_secs(30)));
    // Switching a new file to WAL needs the file to itself: a process opening it while another
    // does the same (or migrates it) is refused with SQLITE_BUSY whatever the busy timeout, and
    // finds WAL already set when it tries again.
    let deadline = tokio::time::Instant::now() + options.busy_timeout;
    loop {
        match pool.clone().connect_with(connect.clone()).await {
            Ok(pool) => return Ok(pool),
            Err(e) if is_busy(&e) && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(OPEN_RETRY).await;
            }
            Err(e) => return Err(Error::store("cannot open the SQLite database", e)),
        }
    }
}

/// Pause before opening a file again that another connection held locked.
const OPEN_RETRY: Duration = Duration::from_millis(20);

/// Whether `e` is SQLite's "database is locked" (`SQLITE_BUSY` and its extended codes).
fn is_busy(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| code & 0xff == 5)
}
