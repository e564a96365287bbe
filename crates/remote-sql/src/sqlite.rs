//! The SQLite dialect.
//!
//! A file in WAL mode with a busy timeout, or `:memory:` (one connection, so the database lives
//! as long as the pool). Single-statement changes are atomic as they are (the claim is one
//! `UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING *`); changes of several statements run in
//! `BEGIN IMMEDIATE` transactions, which take the file's write lock up front. Either way, claims
//! are atomic across connections and across processes sharing the file.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use remote_core::__private::async_trait;
use remote_core::{
    Claim, Completion, Error, ErrorRecord, Failure, ItemId, Job, JobId, JobQuery, JobStatus,
    JobStore, LeaseToken, Result, SchedulerItem, SchedulerStore, StatusCounts, Take,
};
use serde_json::Value;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool,
    SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite};

use crate::config::{SqlOptions, Tables};
use crate::migrate::{pending, SQLITE};
use crate::row::{self, db, from_epoch_millis, json_text, millis, Columns};
use crate::store::{Backend, SqlPool};

/// Pool size of a file store opened from a URL.
const DEFAULT_MAX_CONNECTIONS: u32 = 5;
/// Jobs per INSERT statement (14 parameters each; SQLite allows 32 766).
const INSERT_CHUNK: usize = 500;
/// Opens the write transaction of a multi-statement change.
const BEGIN_IMMEDIATE: &str = "BEGIN IMMEDIATE";

const JOB_COLUMNS: &str = "id, job_name, input, status, output, retry_counter, max_retries, \
     retry_delay_ms, queued_at, retry_time, picked_at, completed_at, lease_until, lease_token";

type Query<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>>;

/// A store in one SQLite database, under one table prefix.
pub(crate) struct SqliteBackend {
    pool: SqlitePool,
    tables: Tables,
    sql: Statements,
}

/// The fixed statements of one store, with its table names filled in.
struct Statements {
    claim: String,
    complete: String,
    fail: String,
    add_record: String,
    renew: String,
    expired: String,
    status_of: String,
    cancel: String,
    get_job: String,
    job_errors: String,
    list_newest: String,
    list_oldest: String,
    count: String,
    remove_records: String,
    remove: String,
    insert_item: String,
    get_item: String,
    list_items: String,
    update_item: String,
    delete_item: String,
    due_items: String,
    take_item: String,
}

impl Statements {
    fn new(t: &Tables) -> Self {
        let (jobs, errors, items, prefix) = (&t.jobs, &t.errors, &t.items, &t.prefix);
        let list = |order: &str| {
            format!(
                "SELECT * FROM {jobs} \
                 WHERE ($1 = '[]' OR status IN (SELECT value FROM json_each($1))) \
                   AND ($2 IS NULL OR job_name = $2) \
                 ORDER BY queued_at {order}, id {order} LIMIT $3 OFFSET $4"
            )
        };
        Self {
            claim: format!(
                "UPDATE {jobs} SET status = 'processing', picked_at = $1, \
                   retry_counter = retry_counter + 1, lease_until = $2, lease_token = $3 \
                 WHERE id IN (SELECT id FROM {jobs} INDEXED BY \"{prefix}jobs_claim\" \
                   WHERE status = 'queued' AND job_name IN (SELECT value FROM json_each($4)) \
                     AND (retry_time IS NULL OR retry_time <= $1) \
                   ORDER BY queued_at, id LIMIT $5) \
                 RETURNING *"
            ),
            complete: format!(
                "UPDATE {jobs} SET status = 'completed', output = $3, completed_at = $4, \
                   lease_until = NULL, lease_token = NULL \
                 WHERE id = $1 AND status = 'processing' AND lease_token = $2"
            ),
            fail: format!(
                "UPDATE {jobs} SET \
                   status = CASE WHEN $3 IS NULL THEN 'error' ELSE 'queued' END, \
                   retry_time = COALESCE($3, retry_time), \
                   completed_at = CASE WHEN $3 IS NULL THEN $4 ELSE completed_at END, \
                   lease_until = NULL, lease_token = NULL \
                 WHERE id = $1 AND status = 'processing' AND lease_token = $2 \
                   AND (NOT $5 OR lease_until IS NULL OR lease_until <= $4)"
            ),
            add_record: format!(
                "INSERT INTO {errors} (job_id, id, created, attempt, message) \
                 VALUES ($1, $2, $3, $4, $5)"
            ),
            renew: format!(
                "UPDATE {jobs} SET lease_until = $3 \
                 WHERE id = $1 AND status = 'processing' AND lease_token = $2"
            ),
            expired: format!(
                "SELECT * FROM {jobs} WHERE status = 'processing' AND lease_until <= $1 \
                 ORDER BY lease_until, id LIMIT $2"
            ),
            status_of: format!("SELECT status FROM {jobs} WHERE id = $1"),
            cancel: format!(
                "UPDATE {jobs} SET status = 'cancelled', completed_at = $2, \
                   lease_until = NULL, lease_token = NULL \
                 WHERE id = $1 AND status IN ('queued', 'processing')"
            ),
            get_job: format!("SELECT * FROM {jobs} WHERE id = $1"),
            job_errors: format!(
                "SELECT e.id, e.created, e.attempt, e.message \
                 FROM {jobs} AS j LEFT JOIN {errors} AS e ON e.job_id = j.id \
                 WHERE j.id = $1 ORDER BY e.seq"
            ),
            list_newest: list("DESC"),
            list_oldest: list("ASC"),
            count: format!("SELECT status, count(*) AS n FROM {jobs} GROUP BY status"),
            remove_records: format!(
                "DELETE FROM {errors} WHERE job_id IN \
                   (SELECT id FROM {jobs} WHERE status IN (SELECT value FROM json_each($1)))"
            ),
            remove: format!(
                "DELETE FROM {jobs} WHERE status IN (SELECT value FROM json_each($1)) \
                 RETURNING status"
            ),
            insert_item: format!(
                "INSERT INTO {items} (id, job_name, input, active, next_call_time, retry_time, \
                   retry_delay_ms, schedule) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ),
            get_item: format!("SELECT * FROM {items} WHERE id = $1"),
            list_items: format!("SELECT * FROM {items} ORDER BY id"),
            update_item: format!(
                "UPDATE {items} SET job_name = $2, input = $3, active = $4, next_call_time = $5, \
                   retry_time = $6, retry_delay_ms = $7, schedule = $8 \
                 WHERE id = $1"
            ),
            delete_item: format!("DELETE FROM {items} WHERE id = $1"),
            due_items: format!(
                "SELECT * FROM {items} \
                 WHERE active AND next_call_time <= $1 AND (retry_time IS NULL OR retry_time <= $1) \
                 ORDER BY next_call_time, id LIMIT $2"
            ),
            take_item: format!(
                "UPDATE {items} SET next_call_time = $2, retry_time = $3 \
                 WHERE id = $1 AND active AND next_call_time = $4 AND next_call_time <= $5 \
                   AND (retry_time IS NULL OR retry_time <= $5)"
            ),
        }
    }
}

/// A time as integer milliseconds since the Unix epoch.
fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn opt_ms(t: Option<DateTime<Utc>>) -> Option<i64> {
    t.map(ms)
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl SqliteBackend {
    /// Opens a pool on `url` (WAL and a busy timeout for files; one connection for `:memory:`).
    pub(crate) async fn connect(url: &str, options: &SqlOptions) -> Result<Self> {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let mut connect = SqliteConnectOptions::from_str(url)
            .map_err(db("invalid SQLite URL"))?
            .busy_timeout(options.busy_timeout)
            .foreign_keys(true);
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
        let pool = pool
            .acquire_timeout(options.busy_timeout.max(Duration::from_secs(30)))
            .connect_with(connect)
            .await
            .map_err(db("cannot open the SQLite database"))?;
        Ok(Self::open(pool, options))
    }

    /// The store on `pool`.
    pub(crate) fn open(pool: SqlitePool, options: &SqlOptions) -> Self {
        let tables = Tables::sqlite(options);
        Self {
            sql: Statements::new(&tables),
            pool,
            tables,
        }
    }

    fn insert_chunk<'a>(&self, jobs: &'a [Job]) -> Result<QueryBuilder<'a, Sqlite>> {
        let inputs = jobs
            .iter()
            .map(|job| {
                Ok((
                    json_text(&job.input)?,
                    job.output.as_ref().map(json_text).transpose()?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut query =
            QueryBuilder::new(format!("INSERT INTO {} ({JOB_COLUMNS}) ", self.tables.jobs));
        query.push_values(
            jobs.iter().zip(inputs),
            |mut row, (job, (input, output))| {
                row.push_bind(job.id.as_str())
                    .push_bind(job.job_name.as_str())
                    .push_bind(input)
                    .push_bind(job.status.as_str())
                    .push_bind(output)
                    .push_bind(i64::from(job.retry_counter))
                    .push_bind(i64::from(job.max_retries))
                    .push_bind(millis(job.retry_delay))
                    .push_bind(ms(job.queued_at))
                    .push_bind(opt_ms(job.retry_time))
                    .push_bind(opt_ms(job.picked_at))
                    .push_bind(opt_ms(job.completed_at))
                    .push_bind(opt_ms(job.lease_until))
                    .push_bind(job.lease_token.map(|t| t.0));
            },
        );
        Ok(query)
    }

    async fn fetch_jobs(&self, query: Query<'_>, context: &'static str) -> Result<Vec<Job>> {
        let rows = query.fetch_all(&self.pool).await.map_err(db(context))?;
        rows.iter().map(row::job).collect()
    }

    async fn fetch_items(
        &self,
        query: Query<'_>,
        context: &'static str,
    ) -> Result<Vec<SchedulerItem>> {
        let rows = query.fetch_all(&self.pool).await.map_err(db(context))?;
        rows.iter().map(row::item).collect()
    }

    /// Runs a guarded change of one row; whether it applied.
    async fn changed(&self, query: Query<'_>, context: &'static str) -> Result<bool> {
        let done = query.execute(&self.pool).await.map_err(db(context))?;
        Ok(done.rows_affected() == 1)
    }

    fn item_query<'q>(&self, sql: &'q str, item: &'q SchedulerItem) -> Result<Query<'q>> {
        Ok(sqlx::query(sql)
            .bind(item.id.as_str())
            .bind(item.job_name.as_str())
            .bind(json_text(&item.input)?)
            .bind(item.active)
            .bind(opt_ms(item.next_call_time))
            .bind(opt_ms(item.retry_time))
            .bind(millis(item.retry_delay))
            .bind(json_text(&row::schedule_json(item)?)?))
    }
}

fn statuses_json(statuses: &[JobStatus]) -> Result<String> {
    let names: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
    serde_json::to_string(&names).map_err(|e| Error::store("cannot write JSON", e))
}

impl Columns for SqliteRow {
    fn text(&self, column: &str) -> Result<Option<String>> {
        self.try_get(column).map_err(unreadable(column))
    }

    fn int(&self, column: &str) -> Result<Option<i64>> {
        self.try_get(column).map_err(unreadable(column))
    }

    fn boolean(&self, column: &str) -> Result<Option<bool>> {
        self.try_get(column).map_err(unreadable(column))
    }

    fn time(&self, column: &str) -> Result<Option<DateTime<Utc>>> {
        self.int(column)?
            .map(|ms| from_epoch_millis(ms, column))
            .transpose()
    }

    fn json(&self, column: &str) -> Result<Option<Value>> {
        self.text(column)?
            .map(|text| {
                serde_json::from_str(&text)
                    .map_err(|e| Error::store(format!("column {column} holds invalid JSON"), e))
            })
            .transpose()
    }
}

fn unreadable(column: &str) -> impl FnOnce(sqlx::Error) -> Error + '_ {
    move |e| Error::store(format!("cannot read column {column}"), e)
}

/// Runs SQL text of one or more statements without parameters.
async fn script(conn: &mut SqliteConnection, sql: &str) -> sqlx::Result<()> {
    sqlx::Executor::execute(conn, sql).await.map(|_| ())
}

#[async_trait]
impl Backend for SqliteBackend {
    async fn migrate(&self) -> Result<()> {
        let context = "cannot migrate the SQLite database";
        let migrations = &self.tables.migrations;
        let mut tx = self
            .pool
            .begin_with(BEGIN_IMMEDIATE)
            .await
            .map_err(db(context))?;
        script(
            &mut tx,
            &format!(
                "CREATE TABLE IF NOT EXISTS {migrations} (\
                   version INTEGER PRIMARY KEY, description TEXT NOT NULL, \
                   checksum INTEGER NOT NULL, applied_at INTEGER NOT NULL)"
            ),
        )
        .await
        .map_err(db(context))?;
        let applied: Vec<(i64, i64)> =
            sqlx::query_as(&format!("SELECT version, checksum FROM {migrations}"))
                .fetch_all(&mut *tx)
                .await
                .map_err(db(context))?;
        for migration in pending(SQLITE, &applied)? {
            script(&mut tx, &migration.render(&self.tables))
                .await
                .map_err(db(context))?;
            sqlx::query(&format!(
                "INSERT INTO {migrations} (version, description, checksum, applied_at) \
                 VALUES ($1, $2, $3, $4)"
            ))
            .bind(migration.version)
            .bind(migration.description)
            .bind(migration.checksum())
            .bind(ms(Utc::now()))
            .execute(&mut *tx)
            .await
            .map_err(db(context))?;
            tracing::info!(
                version = migration.version,
                prefix = self.tables.prefix,
                "applied migration"
            );
        }
        tx.commit().await.map_err(db(context))
    }

    fn pool(&self) -> SqlPool {
        SqlPool::Sqlite(self.pool.clone())
    }

    async fn explain_claim(&self, names: &[String], n: usize) -> Result<String> {
        let now = ms(Utc::now());
        let names =
            serde_json::to_string(names).map_err(|e| Error::store("cannot write JSON", e))?;
        let rows = sqlx::query(&format!("EXPLAIN QUERY PLAN {}", self.sql.claim))
            .bind(now)
            .bind(now)
            .bind(0_i64)
            .bind(names)
            .bind(limit(n))
            .fetch_all(&self.pool)
            .await
            .map_err(db("cannot explain the claim"))?;
        let lines = rows
            .iter()
            .map(|row| row.try_get::<String, _>("detail"))
            .collect::<sqlx::Result<Vec<_>>>()
            .map_err(db("cannot read the claim's plan"))?;
        Ok(lines.join("\n"))
    }
}

#[async_trait]
impl JobStore for SqliteBackend {
    async fn insert_jobs(&self, jobs: &[Job]) -> Result<()> {
        let context = "cannot insert jobs";
        if jobs.len() <= INSERT_CHUNK {
            if !jobs.is_empty() {
                let mut query = self.insert_chunk(jobs)?;
                query
                    .build()
                    .execute(&self.pool)
                    .await
                    .map_err(db(context))?;
            }
            return Ok(());
        }
        let mut tx = self
            .pool
            .begin_with(BEGIN_IMMEDIATE)
            .await
            .map_err(db(context))?;
        for chunk in jobs.chunks(INSERT_CHUNK) {
            let mut query = self.insert_chunk(chunk)?;
            query.build().execute(&mut *tx).await.map_err(db(context))?;
        }
        tx.commit().await.map_err(db(context))
    }

    async fn claim_jobs(&self, claim: &Claim<'_>) -> Result<Vec<Job>> {
        if claim.names.is_empty() || claim.limit == 0 {
            return Ok(Vec::new());
        }
        let names =
            serde_json::to_string(claim.names).map_err(|e| Error::store("cannot write JSON", e))?;
        let query = sqlx::query(&self.sql.claim)
            .bind(ms(claim.now))
            .bind(ms(claim.lease_until))
            .bind(claim.token.0)
            .bind(names)
            .bind(limit(claim.limit));
        let mut jobs = self.fetch_jobs(query, "cannot claim jobs").await?;
        row::pull_order(&mut jobs);
        Ok(jobs)
    }

    async fn complete_job(
        &self,
        id: &JobId,
        token: LeaseToken,
        output: &Value,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let query = sqlx::query(&self.sql.complete)
            .bind(id.as_str())
            .bind(token.0)
            .bind(json_text(output)?)
            .bind(ms(now));
        self.changed(query, "cannot complete a job").await
    }

    async fn complete_jobs(&self, completions: &[Completion]) -> Result<Vec<bool>> {
        let context = "cannot complete jobs";
        if completions.len() < 2 {
            let mut applied = Vec::new();
            for c in completions {
                applied.push(self.complete_job(&c.id, c.token, &c.output, c.now).await?);
            }
            return Ok(applied);
        }
        let outputs = completions
            .iter()
            .map(|c| json_text(&c.output))
            .collect::<Result<Vec<_>>>()?;
        let mut tx = self
            .pool
            .begin_with(BEGIN_IMMEDIATE)
            .await
            .map_err(db(context))?;
        let mut applied = Vec::with_capacity(completions.len());
        for (c, output) in completions.iter().zip(outputs) {
            let done = sqlx::query(&self.sql.complete)
                .bind(c.id.as_str())
                .bind(c.token.0)
                .bind(output)
                .bind(ms(c.now))
                .execute(&mut *tx)
                .await
                .map_err(db(context))?;
            applied.push(done.rows_affected() == 1);
        }
        tx.commit().await.map_err(db(context))?;
        Ok(applied)
    }

    async fn fail_job(&self, id: &JobId, token: LeaseToken, failure: &Failure) -> Result<bool> {
        let context = "cannot record a failed attempt";
        let record = &failure.record;
        let mut tx = self
            .pool
            .begin_with(BEGIN_IMMEDIATE)
            .await
            .map_err(db(context))?;
        let moved = sqlx::query(&self.sql.fail)
            .bind(id.as_str())
            .bind(token.0)
            .bind(opt_ms(failure.retry_at))
            .bind(ms(failure.now))
            .bind(failure.lease_expired)
            .execute(&mut *tx)
            .await
            .map_err(db(context))?;
        if moved.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(&self.sql.add_record)
            .bind(id.as_str())
            .bind(record.id.as_str())
            .bind(ms(record.created))
            .bind(i64::from(record.attempt))
            .bind(record.message.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db(context))?;
        tx.commit().await.map_err(db(context))?;
        Ok(true)
    }

    async fn renew_lease(
        &self,
        id: &JobId,
        token: LeaseToken,
        lease_until: DateTime<Utc>,
    ) -> Result<bool> {
        let query = sqlx::query(&self.sql.renew)
            .bind(id.as_str())
            .bind(token.0)
            .bind(ms(lease_until));
        self.changed(query, "cannot renew a lease").await
    }

    async fn expired_leases(&self, now: DateTime<Utc>, n: usize) -> Result<Vec<Job>> {
        let query = sqlx::query(&self.sql.expired).bind(ms(now)).bind(limit(n));
        self.fetch_jobs(query, "cannot read expired leases").await
    }

    async fn cancel_job(&self, id: &JobId, now: DateTime<Utc>) -> Result<Option<JobStatus>> {
        let context = "cannot cancel a job";
        let mut tx = self
            .pool
            .begin_with(BEGIN_IMMEDIATE)
            .await
            .map_err(db(context))?;
        let was: Option<String> = sqlx::query_scalar(&self.sql.status_of)
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db(context))?;
        let Some(was) = was.as_deref().map(row::status).transpose()? else {
            return Ok(None);
        };
        if matches!(was, JobStatus::Queued | JobStatus::Processing) {
            sqlx::query(&self.sql.cancel)
                .bind(id.as_str())
                .bind(ms(now))
                .execute(&mut *tx)
                .await
                .map_err(db(context))?;
            tx.commit().await.map_err(db(context))?;
        }
        Ok(Some(was))
    }

    async fn get_job(&self, id: &JobId) -> Result<Option<Job>> {
        let found = sqlx::query(&self.sql.get_job)
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db("cannot read a job"))?;
        found.as_ref().map(row::job).transpose()
    }

    async fn job_errors(&self, id: &JobId) -> Result<Option<Vec<ErrorRecord>>> {
        let rows = sqlx::query(&self.sql.job_errors)
            .bind(id.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(db("cannot read a job's errors"))?;
        if rows.is_empty() {
            return Ok(None);
        }
        let records: Result<Vec<Option<ErrorRecord>>> = rows.iter().map(row::record).collect();
        Ok(Some(records?.into_iter().flatten().collect()))
    }

    async fn list_jobs(&self, query: &JobQuery) -> Result<Vec<Job>> {
        let sql = if query.oldest_first {
            &self.sql.list_oldest
        } else {
            &self.sql.list_newest
        };
        let select = sqlx::query(sql)
            .bind(statuses_json(&query.statuses)?)
            .bind(query.job_name.as_deref())
            .bind(
                query
                    .limit
                    .map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX)),
            )
            .bind(i64::try_from(query.offset).unwrap_or(i64::MAX));
        self.fetch_jobs(select, "cannot list jobs").await
    }

    async fn count_jobs(&self) -> Result<StatusCounts> {
        let rows = sqlx::query(&self.sql.count)
            .fetch_all(&self.pool)
            .await
            .map_err(db("cannot count jobs"))?;
        row::counts(&rows)
    }

    async fn remove_jobs(&self, statuses: &[JobStatus]) -> Result<StatusCounts> {
        let context = "cannot remove jobs";
        let statuses = statuses_json(statuses)?;
        let mut tx = self
            .pool
            .begin_with(BEGIN_IMMEDIATE)
            .await
            .map_err(db(context))?;
        sqlx::query(&self.sql.remove_records)
            .bind(statuses.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db(context))?;
        let gone: Vec<String> = sqlx::query_scalar(&self.sql.remove)
            .bind(statuses.as_str())
            .fetch_all(&mut *tx)
            .await
            .map_err(db(context))?;
        tx.commit().await.map_err(db(context))?;
        let mut counts = StatusCounts::new();
        for status in gone {
            *counts.entry(row::status(&status)?).or_insert(0) += 1;
        }
        Ok(counts)
    }
}

#[async_trait]
impl SchedulerStore for SqliteBackend {
    async fn insert_item(&self, item: &SchedulerItem) -> Result<()> {
        self.item_query(&self.sql.insert_item, item)?
            .execute(&self.pool)
            .await
            .map_err(db("cannot insert a scheduler item"))?;
        Ok(())
    }

    async fn get_item(&self, id: &ItemId) -> Result<Option<SchedulerItem>> {
        let found = sqlx::query(&self.sql.get_item)
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db("cannot read a scheduler item"))?;
        found.as_ref().map(row::item).transpose()
    }

    async fn list_items(&self) -> Result<Vec<SchedulerItem>> {
        let query = sqlx::query(&self.sql.list_items);
        self.fetch_items(query, "cannot list scheduler items").await
    }

    async fn update_item(&self, item: &SchedulerItem) -> Result<bool> {
        let query = self.item_query(&self.sql.update_item, item)?;
        self.changed(query, "cannot update a scheduler item").await
    }

    async fn delete_item(&self, id: &ItemId) -> Result<bool> {
        let query = sqlx::query(&self.sql.delete_item).bind(id.as_str());
        self.changed(query, "cannot delete a scheduler item").await
    }

    async fn due_items(&self, now: DateTime<Utc>, n: usize) -> Result<Vec<SchedulerItem>> {
        let query = sqlx::query(&self.sql.due_items)
            .bind(ms(now))
            .bind(limit(n));
        self.fetch_items(query, "cannot read due scheduler items")
            .await
    }

    async fn take_item(&self, take: &Take) -> Result<bool> {
        let query = sqlx::query(&self.sql.take_item)
            .bind(take.id.as_str())
            .bind(opt_ms(take.next_call_time))
            .bind(opt_ms(take.retry_time))
            .bind(ms(take.expected_next_call_time))
            .bind(ms(take.now));
        self.changed(query, "cannot take a scheduler item").await
    }
}
