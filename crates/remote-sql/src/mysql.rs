//! The MariaDB/MySQL dialect: times as integer milliseconds (UTC whatever the session's time
//! zone), lists as JSON text (`JSON_TABLE`, `JSON_CONTAINS`), JSON and error texts stored as
//! text and bytes exactly as written. Without `UPDATE … RETURNING`, a claim is a transaction:
//! `SELECT … FOR UPDATE SKIP LOCKED` (MariaDB ≥ 10.6), then an `UPDATE` of the
//! rows read; a batch is one transaction of a locking read of the rows its entries apply to
//! and one `UPDATE` over those entries as JSON rows (releases: one `UPDATE` per entry).

use std::str::FromStr;

use remote_core::{Error, Result};
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions, MySqlQueryResult, MySqlRow};
use sqlx::{Executor, MySql};

use crate::config::SqlOptions;
use crate::dialect::{Batches, Claims, Dialect, Placeholders};
use crate::engine::{bind_portable, get, utf8, Driver, Param, Query};

/// Pool size of a store opened from a URL.
const DEFAULT_MAX_CONNECTIONS: u32 = 5;

impl Driver for MySql {
    const DIALECT: Dialect = Dialect::new("MySQL", "mysql")
        .quoted('`')
        .placeholders(Placeholders::Positional)
        // Read committed: no gap locks, so claims, inserts and outcomes of other transactions
        // do not deadlock on the gaps between rows (InnoDB's default locks them).
        .begin("SET TRANSACTION ISOLATION LEVEL READ COMMITTED; START TRANSACTION")
        .claims(Claims::LockThenUpdate)
        .batches(Batches::LockThenRows)
        .explain("EXPLAIN FORMAT=JSON", "EXPLAIN");

    fn affected(done: &MySqlQueryResult) -> u64 {
        done.rows_affected()
    }

    fn bind<'q>(query: Query<'q, Self>, param: &'q Param<'q>) -> Query<'q, Self> {
        match param {
            Param::OptFree(v) => query.bind(v.map(str::as_bytes)),
            other => bind_portable(query, other),
        }
    }

    /// Text read as its bytes: sqlx takes a column of a binary collation (`ascii_bin`,
    /// `utf8mb4_bin`) for binary data and would not read it as a string.
    fn text(row: &MySqlRow, column: &str) -> Result<Option<String>> {
        utf8(get(row, column)?, column)
    }
}

/// Opens a pool on `url` (`mysql://` or `mariadb://`), each connection in strict mode.
pub(crate) async fn connect(url: &str, options: &SqlOptions) -> Result<MySqlPool> {
    let connect =
        MySqlConnectOptions::from_str(url).map_err(|e| Error::store("invalid MySQL URL", e))?;
    MySqlPoolOptions::new()
        .max_connections(options.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS))
        .after_connect(|conn, _| {
            Box::pin(async move {
                // Too long or malformed values are errors, never silently cut.
                conn.execute(
                    "SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',STRICT_ALL_TABLES')",
                )
                .await
                .map(|_| ())
            })
        })
        .connect_with(connect)
        .await
        .map_err(|e| Error::store("cannot connect to MySQL", e))
}
