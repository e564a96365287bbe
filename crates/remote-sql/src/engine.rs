//! The one way the store reaches a database: an object-safe [`Engine`] (a pool) and
//! [`Session`] (a transaction), implemented once for every sqlx driver. A dialect adds only
//! what truly differs, as a [`Driver`]: how a value binds and how a time, JSON or free text
//! column reads.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use remote_core::{Error, Result};
use serde_json::Value;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Type};
use tokio::sync::Notify;

use crate::dialect::Dialect;
use crate::queries::Statement;
use crate::row::Columns;
use crate::store::SqlPool;

/// One parameter value, typed by what it means; each dialect binds it its own way (times as
/// `timestamptz` or integer milliseconds, lists as arrays or JSON text).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Param<'a> {
    Text(&'a str),
    OptText(Option<&'a str>),
    Int(i64),
    OptInt(Option<i64>),
    Bool(bool),
    Time(DateTime<Utc>),
    OptTime(Option<DateTime<Utc>>),
    /// Text that may hold NUL (error messages).
    OptFree(Option<&'a str>),
    Texts(Vec<&'a str>),
    OptTexts(Vec<Option<&'a str>>),
    Ints(Vec<i64>),
    OptInts(Vec<Option<i64>>),
    Times(Vec<DateTime<Utc>>),
    OptTimes(Vec<Option<DateTime<Utc>>>),
    OptFrees(Vec<Option<&'a str>>),
    /// Whole rows, each its named values: bound as a JSON array of objects (values unset are
    /// left out), for dialects that read many rows from one parameter (`JSON_TABLE`).
    Rows(Vec<Args<'a>>),
}

/// Named parameter values, as statements take them.
pub(crate) type Args<'a> = Vec<(&'static str, Param<'a>)>;

impl<'a> Param<'a> {
    /// The value as JSON, for dialects that take lists as JSON text: times as milliseconds.
    pub(crate) fn to_json(&self) -> Value {
        fn list<T>(items: &[T], f: impl Fn(&T) -> Value) -> Value {
            Value::Array(items.iter().map(f).collect())
        }
        fn opt<T>(value: &Option<T>, f: impl Fn(&T) -> Value) -> Value {
            value.as_ref().map_or(Value::Null, f)
        }
        let ms = |t: &DateTime<Utc>| Value::from(t.timestamp_millis());
        let text = |s: &&str| Value::from(*s);
        match self {
            Param::Text(v) => text(v),
            Param::OptText(v) | Param::OptFree(v) => opt(v, text),
            Param::Int(v) => Value::from(*v),
            Param::OptInt(v) => opt(v, |n| Value::from(*n)),
            Param::Bool(v) => Value::from(*v),
            Param::Time(t) => ms(t),
            Param::OptTime(t) => opt(t, ms),
            Param::Texts(v) => list(v, text),
            Param::OptTexts(v) | Param::OptFrees(v) => list(v, |s| opt(s, text)),
            Param::Ints(v) => list(v, |n| Value::from(*n)),
            Param::OptInts(v) => list(v, |n| opt(n, |n| Value::from(*n))),
            Param::Times(v) => list(v, ms),
            Param::OptTimes(v) => list(v, |t| opt(t, ms)),
            Param::Rows(rows) => list(rows, |row| {
                Value::Object(
                    row.iter()
                        .map(|(name, value)| ((*name).to_owned(), value.to_json()))
                        .filter(|(_, value)| !value.is_null())
                        .collect(),
                )
            }),
        }
    }

    /// The values of one parameter across a batch's entries as one list parameter; `None` when
    /// they are not all of one scalar kind.
    pub(crate) fn list(values: Vec<Param<'a>>) -> Option<Param<'a>> {
        macro_rules! lists {
            ($($one:ident => $many:ident),*) => {
                match values.first()? {
                    $(Param::$one(_) => Param::$many(
                        values
                            .into_iter()
                            .map(|p| match p {
                                Param::$one(v) => Some(v),
                                _ => None,
                            })
                            .collect::<Option<_>>()?,
                    ),)*
                    _ => return None,
                }
            };
        }
        Some(lists!(
            Text => Texts,
            OptText => OptTexts,
            Int => Ints,
            OptInt => OptInts,
            Time => Times,
            OptTime => OptTimes,
            OptFree => OptFrees
        ))
    }
}

/// A row as the store reads it, whatever the database.
pub(crate) type Row = Box<dyn Columns + Send + Sync>;

/// A pool of one database, as the store body uses it.
#[async_trait]
pub(crate) trait Engine: Send + Sync + 'static {
    /// What the database's SQL can and cannot do.
    fn dialect(&self) -> &'static Dialect;
    /// The pool, for [`crate::SqlStore::pool`].
    fn pool(&self) -> SqlPool;
    /// The wake-ups of jobs added elsewhere, where the database sends them.
    fn wakeups(&self) -> Option<Arc<Notify>>;
    /// Runs one statement on a pooled connection and returns its rows.
    async fn fetch(&self, statement: &Statement, params: &[&Param<'_>]) -> sqlx::Result<Vec<Row>>;
    /// Runs one statement on a pooled connection; the rows it changed.
    async fn execute(&self, statement: &Statement, params: &[&Param<'_>]) -> sqlx::Result<u64>;
    /// Opens a write transaction.
    async fn begin(&self) -> sqlx::Result<Box<dyn Session>>;
}

/// A write transaction (or a savepoint in the caller's transaction); dropped without
/// [`commit`](Self::commit), it rolls back.
#[async_trait]
pub(crate) trait Session: Send {
    /// Runs one statement and returns its rows.
    async fn fetch(
        &mut self,
        statement: &Statement,
        params: &[&Param<'_>],
    ) -> sqlx::Result<Vec<Row>>;
    /// Runs one statement; the rows it changed.
    async fn execute(&mut self, statement: &Statement, params: &[&Param<'_>]) -> sqlx::Result<u64>;
    /// Runs SQL text of one or more statements without parameters (migrations).
    async fn script(&mut self, sql: &str) -> sqlx::Result<()>;
    /// Commits (a savepoint: releases it).
    async fn commit(self: Box<Self>) -> sqlx::Result<()>;
    /// Rolls back now (a savepoint: to where it began, the caller's transaction going on).
    async fn rollback(self: Box<Self>) -> sqlx::Result<()>;
}

/// A query of driver `DB` with its parameters bound.
pub(crate) type Query<'q, DB> = sqlx::query::Query<'q, DB, <DB as Database>::Arguments<'q>>;

/// What a dialect's sqlx driver adds to the engine. The provided methods read columns the way
/// of databases without time and JSON types: times as integer milliseconds since the epoch,
/// JSON and free text as text.
pub(crate) trait Driver: Database {
    /// What the dialect's SQL can and cannot do.
    const DIALECT: Dialect;

    /// Rows a statement changed (matched, for an UPDATE).
    fn affected(done: &Self::QueryResult) -> u64;

    /// Binds one parameter (most dialects bind most values by [`bind_portable`]).
    fn bind<'q>(query: Query<'q, Self>, param: &'q Param<'q>) -> Query<'q, Self>;

    /// An integer column.
    fn int(row: &Self::Row, column: &str) -> Result<Option<i64>>
    where
        for<'r> i64: Decode<'r, Self> + Type<Self>,
        for<'c> &'c str: ColumnIndex<Self::Row>,
    {
        get(row, column)
    }

    /// A text column.
    fn text(row: &Self::Row, column: &str) -> Result<Option<String>>
    where
        for<'r> String: Decode<'r, Self> + Type<Self>,
        for<'c> &'c str: ColumnIndex<Self::Row>,
    {
        get(row, column)
    }

    /// A time column.
    fn time(row: &Self::Row, column: &str) -> Result<Option<DateTime<Utc>>>
    where
        for<'r> String: Decode<'r, Self> + Type<Self>,
        for<'r> i64: Decode<'r, Self> + Type<Self>,
        for<'c> &'c str: ColumnIndex<Self::Row>,
    {
        epoch_millis(get(row, column)?, column)
    }

    /// A JSON column.
    fn json(row: &Self::Row, column: &str) -> Result<Option<Value>>
    where
        for<'r> String: Decode<'r, Self> + Type<Self>,
        for<'c> &'c str: ColumnIndex<Self::Row>,
    {
        parse_json(Self::text(row, column)?, column)
    }

    /// A column of free text (error messages).
    fn free_text(row: &Self::Row, column: &str) -> Result<Option<String>>
    where
        for<'r> String: Decode<'r, Self> + Type<Self>,
        for<'c> &'c str: ColumnIndex<Self::Row>,
    {
        Self::text(row, column)
    }
}

/// Binds a parameter as every database takes it: scalars as they are, times as integer
/// milliseconds since the epoch, lists as JSON text.
pub(crate) fn bind_portable<'q, DB: Database>(
    query: Query<'q, DB>,
    param: &'q Param<'q>,
) -> Query<'q, DB>
where
    &'q str: Encode<'q, DB> + Type<DB>,
    Option<&'q str>: Encode<'q, DB> + Type<DB>,
    i64: Encode<'q, DB> + Type<DB>,
    Option<i64>: Encode<'q, DB> + Type<DB>,
    bool: Encode<'q, DB> + Type<DB>,
    String: Encode<'q, DB> + Type<DB>,
{
    match param {
        Param::Text(v) => query.bind(*v),
        Param::OptText(v) | Param::OptFree(v) => query.bind(*v),
        Param::Int(v) => query.bind(*v),
        Param::OptInt(v) => query.bind(*v),
        Param::Bool(v) => query.bind(*v),
        Param::Time(t) => query.bind(t.timestamp_millis()),
        Param::OptTime(t) => query.bind(t.map(|t| t.timestamp_millis())),
        list => query.bind(list.to_json().to_string()),
    }
}

/// Relays wake-ups from the database; aborts its task when the store is dropped.
pub(crate) struct Wake {
    pub notify: Arc<Notify>,
    pub task: tokio::task::JoinHandle<()>,
}

impl Drop for Wake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The engine of every driver: a pool, the wake-ups it relays, and the queue of its writers
/// where the database has one writer at a time.
pub(crate) struct Pooled<DB: Database> {
    pub pool: Pool<DB>,
    pub wake: Option<Wake>,
    writers: Option<Arc<tokio::sync::Mutex<()>>>,
}

/// A place in the queue of writers, held until the write ends.
type Turn = Option<tokio::sync::OwnedMutexGuard<()>>;

impl<DB: Driver> Pooled<DB> {
    pub(crate) fn new(pool: Pool<DB>) -> Self {
        let writers = DB::DIALECT
            .one_writer
            .then(|| Arc::new(tokio::sync::Mutex::new(())));
        Self {
            pool,
            wake: None,
            writers,
        }
    }
}

impl<DB: Database> Pooled<DB> {
    /// Waits for this process's turn to write, where writers queue and `writes` is true;
    /// `None` otherwise.
    async fn turn(&self, writes: bool) -> Turn {
        let writers = self.writers.as_ref().filter(|_| writes)?;
        Some(writers.clone().lock_owned().await)
    }
}

/// The engine's transaction, on a pooled connection or on one the caller lends, with its
/// turn among the writers (dropped when it ends).
struct Tx<'c, DB: Database> {
    tx: sqlx::Transaction<'c, DB>,
    _turn: Turn,
}

/// A session on a connection the caller lends: a transaction, or a savepoint when the
/// connection is in a transaction already (sqlx's nesting).
pub(crate) async fn begin_on<'c, DB: Runs>(
    conn: &'c mut DB::Connection,
) -> sqlx::Result<Box<dyn Session + 'c>> {
    let tx = sqlx::Connection::begin(conn).await?;
    Ok(Box::new(Tx { tx, _turn: None }))
}

/// Drivers that bind every [`Param`]: those binding the scalar types all databases know.
pub(crate) trait BindAll: Driver {
    /// The statement `sql` with `params` bound in order.
    fn query<'q>(sql: &'q str, params: &'q [&'q Param<'q>]) -> Query<'q, Self>;
}

impl<DB: Driver> BindAll for DB
where
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
{
    fn query<'q>(sql: &'q str, params: &'q [&'q Param<'q>]) -> Query<'q, DB> {
        params
            .iter()
            .fold(sqlx::query::<DB>(sql), |q, param| DB::bind(q, param))
    }
}

/// A boxed future of the engine.
type Boxed<'c, T> = Pin<Box<dyn Future<Output = sqlx::Result<T>> + Send + 'c>>;

/// Drivers whose connections run the store's statements: every driver, with the bounds sqlx
/// asks of a generic caller written here once.
pub(crate) trait Runs: BindAll {
    /// Runs one statement on `conn` and returns its rows.
    fn fetch_in<'c>(
        conn: &'c mut Self::Connection,
        sql: &'c str,
        params: &'c [&'c Param<'c>],
    ) -> Boxed<'c, Vec<Row>>;
    /// Runs one statement on `conn`; the rows it changed.
    fn execute_in<'c>(
        conn: &'c mut Self::Connection,
        sql: &'c str,
        params: &'c [&'c Param<'c>],
    ) -> Boxed<'c, u64>;
    /// Runs SQL text of one or more statements without parameters on `conn`.
    fn script_in<'c>(conn: &'c mut Self::Connection, sql: &'c str) -> Boxed<'c, ()>;
}

impl<DB: BindAll> Runs for DB
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'a> DB::Arguments<'a>: IntoArguments<'a, DB>,
    RowOf<DB>: Columns,
{
    fn fetch_in<'c>(
        conn: &'c mut DB::Connection,
        sql: &'c str,
        params: &'c [&'c Param<'c>],
    ) -> Boxed<'c, Vec<Row>> {
        Box::pin(async move {
            let found = DB::query(sql, params).fetch_all(conn).await?;
            Ok(found
                .into_iter()
                .map(|row| Box::new(RowOf::<DB>(row)) as Row)
                .collect())
        })
    }

    fn execute_in<'c>(
        conn: &'c mut DB::Connection,
        sql: &'c str,
        params: &'c [&'c Param<'c>],
    ) -> Boxed<'c, u64> {
        Box::pin(async move {
            let done = DB::query(sql, params).execute(conn).await?;
            Ok(DB::affected(&done))
        })
    }

    fn script_in<'c>(conn: &'c mut DB::Connection, sql: &'c str) -> Boxed<'c, ()> {
        Box::pin(async move { conn.execute(sql).await.map(|_| ()) })
    }
}

#[async_trait]
impl<DB: Runs> Engine for Pooled<DB>
where
    SqlPool: From<Pool<DB>>,
{
    fn dialect(&self) -> &'static Dialect {
        &DB::DIALECT
    }

    fn pool(&self) -> SqlPool {
        SqlPool::from(self.pool.clone())
    }

    fn wakeups(&self) -> Option<Arc<Notify>> {
        self.wake.as_ref().map(|w| w.notify.clone())
    }

    async fn fetch(&self, statement: &Statement, params: &[&Param<'_>]) -> sqlx::Result<Vec<Row>> {
        let _turn = self.turn(statement.writes).await;
        DB::fetch_in(&mut *self.pool.acquire().await?, &statement.sql, params).await
    }

    async fn execute(&self, statement: &Statement, params: &[&Param<'_>]) -> sqlx::Result<u64> {
        let _turn = self.turn(statement.writes).await;
        DB::execute_in(&mut *self.pool.acquire().await?, &statement.sql, params).await
    }

    async fn begin(&self) -> sqlx::Result<Box<dyn Session>> {
        let turn = self.turn(true).await;
        let tx = match DB::DIALECT.begin {
            Some(statement) => self.pool.begin_with(statement).await?,
            None => self.pool.begin().await?,
        };
        Ok(Box::new(Tx { tx, _turn: turn }))
    }
}

#[async_trait]
impl<DB: Runs> Session for Tx<'_, DB> {
    async fn fetch(
        &mut self,
        statement: &Statement,
        params: &[&Param<'_>],
    ) -> sqlx::Result<Vec<Row>> {
        DB::fetch_in(&mut self.tx, &statement.sql, params).await
    }

    async fn execute(&mut self, statement: &Statement, params: &[&Param<'_>]) -> sqlx::Result<u64> {
        DB::execute_in(&mut self.tx, &statement.sql, params).await
    }

    async fn script(&mut self, sql: &str) -> sqlx::Result<()> {
        DB::script_in(&mut self.tx, sql).await
    }

    async fn commit(self: Box<Self>) -> sqlx::Result<()> {
        self.tx.commit().await
    }

    async fn rollback(self: Box<Self>) -> sqlx::Result<()> {
        self.tx.rollback().await
    }
}

/// A row of driver `DB`, read through [`Columns`].
pub(crate) struct RowOf<DB: Database>(DB::Row);

impl<DB: Driver> Columns for RowOf<DB>
where
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    for<'r> bool: Decode<'r, DB> + Type<DB>,
    for<'c> &'c str: ColumnIndex<DB::Row>,
{
    fn text(&self, column: &str) -> Result<Option<String>> {
        DB::text(&self.0, column)
    }

    fn int(&self, column: &str) -> Result<Option<i64>> {
        DB::int(&self.0, column)
    }

    fn boolean(&self, column: &str) -> Result<Option<bool>> {
        get(&self.0, column)
    }

    fn time(&self, column: &str) -> Result<Option<DateTime<Utc>>> {
        DB::time(&self.0, column)
    }

    fn json(&self, column: &str) -> Result<Option<Value>> {
        DB::json(&self.0, column)
    }

    fn free_text(&self, column: &str) -> Result<Option<String>> {
        DB::free_text(&self.0, column)
    }

    fn plan_line(&self) -> Result<String> {
        DB::text(&self.0, DB::DIALECT.plan_column).map(Option::unwrap_or_default)
    }
}

/// A nullable column of `row` as `T`; a column that is missing or of another type is a store
/// error.
pub(crate) fn get<'r, T, R>(row: &'r R, column: &str) -> Result<Option<T>>
where
    R: sqlx::Row,
    T: Decode<'r, R::Database> + Type<R::Database>,
    for<'c> &'c str: ColumnIndex<R>,
{
    row.try_get::<Option<T>, _>(column)
        .map_err(|e| Error::store(format!("cannot read column {column}"), e))
}

/// JSON written as text, parsed.
pub(crate) fn parse_json(text: Option<String>, column: &str) -> Result<Option<Value>> {
    text.map(|text| {
        serde_json::from_str(&text)
            .map_err(|e| Error::store(format!("column {column} holds invalid JSON"), e))
    })
    .transpose()
}

/// UTF-8 bytes as text.
pub(crate) fn utf8(bytes: Option<Vec<u8>>, column: &str) -> Result<Option<String>> {
    bytes
        .map(|b| {
            String::from_utf8(b)
                .map_err(|e| Error::store(format!("column {column} holds invalid UTF-8"), e))
        })
        .transpose()
}

/// Milliseconds since the Unix epoch as a time.
pub(crate) fn epoch_millis(ms: Option<i64>, column: &str) -> Result<Option<DateTime<Utc>>> {
    ms.map(|ms| {
        DateTime::from_timestamp_millis(ms).ok_or_else(|| {
            Error::store_msg(format!("column {column} holds an impossible time {ms}"))
        })
    })
    .transpose()
}
