//! The PostgreSQL dialect.
//!
//! Every change is one statement, so it is atomic without an explicit transaction: the claim
//! is `UPDATE … FROM (SELECT … ORDER BY queued_at, id LIMIT n FOR UPDATE SKIP LOCKED)` on the
//! partial index `<prefix>jobs_claim`; a failure appends its record and moves the job in one
//! statement (a data-modifying CTE); a cancel reads the old status under a row lock.
//! Adding jobs sends `pg_notify` on the store's channel; a background task LISTENs on it and
//! wakes this process's idle workers through [`JobStore::wakeups`].

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use remote_core::__private::{async_trait, fnv1a};
use remote_core::{
    Claim, Completion, Error, ErrorRecord, Failure, ItemId, Job, JobId, JobQuery, JobStatus,
    JobStore, LeaseToken, Result, SchedulerItem, SchedulerStore, StatusCounts, Take,
};
use serde_json::Value;
use sqlx::postgres::{PgArguments, PgConnection, PgListener, PgPool, PgPoolOptions, PgRow};
use sqlx::types::Json;
use sqlx::{Postgres, QueryBuilder, Row};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::config::{SqlOptions, Tables};
use crate::migrate::{pending, POSTGRES};
use crate::row::{self, db, json_text, millis, Columns};
use crate::store::{Backend, SqlPool};

/// Pool size of a store opened from a URL.
const DEFAULT_MAX_CONNECTIONS: u32 = 5;
/// Jobs per INSERT statement (14 parameters each, well under PostgreSQL's 65 535).
const INSERT_CHUNK: usize = 1000;
/// First and longest pause before the listener reconnects.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

const JOB_COLUMNS: &str = "id, job_name, input, status, output, retry_counter, max_retries, \
     retry_delay_ms, queued_at, retry_time, picked_at, completed_at, lease_until, lease_token";

type Query<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

/// A store in one PostgreSQL schema, under one table prefix.
pub(crate) struct PgBackend {
    pool: PgPool,
    tables: Tables,
    sql: Statements,
    wake: Arc<Notify>,
    listener: Option<AbortOnDrop>,
}

/// The fixed statements of one store, with its table names filled in.
struct Statements {
    claim: String,
    complete: String,
    complete_many: String,
    fail: String,
    renew: String,
    expired: String,
    cancel: String,
    get_job: String,
    job_errors: String,
    list_newest: String,
    list_oldest: String,
    count: String,
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
        let (jobs, errors, items) = (&t.jobs, &t.errors, &t.items);
        let list = |order: &str| {
            format!(
                "SELECT * FROM {jobs} \
                 WHERE (cardinality($1::text[]) = 0 OR status = ANY($1)) \
                   AND ($2::text IS NULL OR job_name = $2) \
                 ORDER BY queued_at {order}, id {order} LIMIT $3 OFFSET $4"
            )
        };
        Self {
            claim: format!(
                "UPDATE {jobs} AS j SET status = 'processing', picked_at = $1, \
                   retry_counter = j.retry_counter + 1, lease_until = $2, lease_token = $3 \
                 FROM (SELECT id FROM {jobs} \
                       WHERE status = 'queued' AND job_name = ANY($4) \
                         AND (retry_time IS NULL OR retry_time <= $1) \
                       ORDER BY (queued_at AT TIME ZONE 'UTC'), id LIMIT $5 \
                       FOR UPDATE SKIP LOCKED) AS c \
                 WHERE j.id = c.id RETURNING j.*"
            ),
            complete: format!(
                "UPDATE {jobs} SET status = 'completed', output = $3::json, completed_at = $4, \
                   lease_until = NULL, lease_token = NULL \
                 WHERE id = $1 AND status = 'processing' AND lease_token = $2"
            ),
            complete_many: format!(
                "UPDATE {jobs} AS j SET status = 'completed', output = c.output::json, \
                   completed_at = c.now, lease_until = NULL, lease_token = NULL \
                 FROM unnest($1::text[], $2::bigint[], $3::text[], $4::timestamptz[]) \
                   AS c(id, token, output, now) \
                 WHERE j.id = c.id AND j.status = 'processing' AND j.lease_token = c.token \
                 RETURNING j.id, c.token"
            ),
            fail: format!(
                "WITH j AS ( \
                   UPDATE {jobs} SET \
                     status = CASE WHEN $3::timestamptz IS NULL THEN 'error' ELSE 'queued' END, \
                     retry_time = COALESCE($3, retry_time), \
                     completed_at = CASE WHEN $3::timestamptz IS NULL THEN $4 ELSE completed_at END, \
                     lease_until = NULL, lease_token = NULL \
                   WHERE id = $1 AND status = 'processing' AND lease_token = $2 \
                     AND (NOT $5 OR lease_until IS NULL OR lease_until <= $4) \
                   RETURNING id) \
                 INSERT INTO {errors} (job_id, id, created, attempt, message) \
                 SELECT id, $6, $7, $8, $9 FROM j"
            ),
            renew: format!(
                "UPDATE {jobs} SET lease_until = $3 \
                 WHERE id = $1 AND status = 'processing' AND lease_token = $2"
            ),
            expired: format!(
                "SELECT * FROM {jobs} WHERE status = 'processing' AND lease_until <= $1 \
                 ORDER BY lease_until, id LIMIT $2"
            ),
            cancel: format!(
                "WITH old AS (SELECT id, status FROM {jobs} WHERE id = $1 FOR UPDATE), \
                 done AS ( \
                   UPDATE {jobs} AS j SET status = 'cancelled', completed_at = $2, \
                     lease_until = NULL, lease_token = NULL \
                   FROM old WHERE j.id = old.id AND old.status IN ('queued', 'processing')) \
                 SELECT status FROM old"
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
            remove: format!(
                "WITH gone AS (DELETE FROM {jobs} WHERE status = ANY($1) RETURNING status) \
                 SELECT status, count(*) AS n FROM gone GROUP BY status"
            ),
            insert_item: format!(
                "INSERT INTO {items} (id, job_name, input, active, next_call_time, retry_time, \
                   retry_delay_ms, schedule) \
                 VALUES ($1, $2, $3::json, $4, $5, $6, $7, $8::json)"
            ),
            get_item: format!("SELECT * FROM {items} WHERE id = $1"),
            list_items: format!("SELECT * FROM {items} ORDER BY id"),
            update_item: format!(
                "UPDATE {items} SET job_name = $2, input = $3::json, active = $4, \
                   next_call_time = $5, retry_time = $6, retry_delay_ms = $7, schedule = $8::json \
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

impl PgBackend {
    /// Opens a pool on `url`, then the store.
    pub(crate) async fn connect(url: &str, options: &SqlOptions) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS))
            .connect(url)
            .await
            .map_err(db("cannot connect to PostgreSQL"))?;
        Self::open(pool, options).await
    }

    /// The store on `pool`; starts the listener when the options ask for it.
    pub(crate) async fn open(pool: PgPool, options: &SqlOptions) -> Result<Self> {
        let tables = Tables::postgres(options);
        let wake = Arc::new(Notify::new());
        let listener = if options.listen {
            Some(listen(&pool, &tables.channel, wake.clone()).await?)
        } else {
            None
        };
        Ok(Self {
            sql: Statements::new(&tables),
            pool,
            tables,
            wake,
            listener,
        })
    }

    fn insert_chunk<'a>(&self, jobs: &'a [Job]) -> Result<QueryBuilder<'a, Postgres>> {
        let texts = jobs
            .iter()
            .map(|job| {
                Ok((
                    json_text(&job.input)?,
                    job.output.as_ref().map(json_text).transpose()?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut query = QueryBuilder::new(format!(
            "WITH added AS (INSERT INTO {} ({JOB_COLUMNS}) ",
            self.tables.jobs
        ));
        query.push_values(jobs.iter().zip(texts), |mut row, (job, (input, output))| {
            row.push_bind(job.id.as_str())
                .push_bind(job.job_name.as_str())
                .push_bind(input)
                .push_unseparated("::json")
                .push_bind(job.status.as_str())
                .push_bind(output)
                .push_unseparated("::json")
                .push_bind(i64::from(job.retry_counter))
                .push_bind(i64::from(job.max_retries))
                .push_bind(millis(job.retry_delay))
                .push_bind(job.queued_at)
                .push_bind(job.retry_time)
                .push_bind(job.picked_at)
                .push_bind(job.completed_at)
                .push_bind(job.lease_until)
                .push_bind(job.lease_token.map(|t| t.0));
        });
        query
            .push(") SELECT pg_notify(")
            .push_bind(self.tables.channel.clone())
            .push(", '')");
        Ok(query)
    }

    fn item_query<'q>(&self, sql: &'q str, item: &'q SchedulerItem) -> Result<Query<'q>> {
        Ok(sqlx::query(sql)
            .bind(item.id.as_str())
            .bind(item.job_name.as_str())
            .bind(json_text(&item.input)?)
            .bind(item.active)
            .bind(item.next_call_time)
            .bind(item.retry_time)
            .bind(millis(item.retry_delay))
            .bind(json_text(&row::schedule_json(item)?)?))
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
}

/// Aborts the listener task when the store is dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Subscribes to `channel` on a connection of its own and relays notifications to `wake`.
async fn listen(pool: &PgPool, channel: &str, wake: Arc<Notify>) -> Result<AbortOnDrop> {
    let listen_pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_lazy_with((*pool.connect_options()).clone());
    let first = subscribe(&listen_pool, channel)
        .await
        .map_err(db("cannot LISTEN for new jobs"))?;
    let task = tokio::spawn(relay(listen_pool, channel.to_owned(), first, wake));
    Ok(AbortOnDrop(task))
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

impl Columns for PgRow {
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
        self.try_get(column).map_err(unreadable(column))
    }

    fn json(&self, column: &str) -> Result<Option<Value>> {
        self.try_get::<Option<Json<Value>>, _>(column)
            .map(|v| v.map(|Json(v)| v))
            .map_err(unreadable(column))
    }

    fn free_text(&self, column: &str) -> Result<Option<String>> {
        let bytes: Option<Vec<u8>> = self.try_get(column).map_err(unreadable(column))?;
        bytes
            .map(|b| {
                String::from_utf8(b)
                    .map_err(|e| Error::store(format!("column {column} holds invalid UTF-8"), e))
            })
            .transpose()
    }
}

fn unreadable(column: &str) -> impl FnOnce(sqlx::Error) -> Error + '_ {
    move |e| Error::store(format!("cannot read column {column}"), e)
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Runs SQL text of one or more statements without parameters.
async fn script(conn: &mut PgConnection, sql: &str) -> sqlx::Result<()> {
    sqlx::Executor::execute(conn, sql).await.map(|_| ())
}

#[async_trait]
impl Backend for PgBackend {
    async fn migrate(&self) -> Result<()> {
        let context = "cannot migrate the PostgreSQL schema";
        let schema = self.tables.schema.as_deref().unwrap_or("public");
        let lock =
            i64::from_ne_bytes(fnv1a(format!("remote-sql:{schema}").as_bytes()).to_ne_bytes());
        let mut tx = self.pool.begin().await.map_err(db(context))?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(lock)
            .execute(&mut *tx)
            .await
            .map_err(db(context))?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
                .bind(schema)
                .fetch_one(&mut *tx)
                .await
                .map_err(db(context))?;
        if !exists {
            script(&mut tx, &format!("CREATE SCHEMA \"{schema}\""))
                .await
                .map_err(db(context))?;
        }
        let migrations = &self.tables.migrations;
        script(
            &mut tx,
            &format!(
                "CREATE TABLE IF NOT EXISTS {migrations} (\
                   version bigint PRIMARY KEY, description text NOT NULL, \
                   checksum bigint NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            ),
        )
        .await
        .map_err(db(context))?;
        let applied: Vec<(i64, i64)> =
            sqlx::query_as(&format!("SELECT version, checksum FROM {migrations}"))
                .fetch_all(&mut *tx)
                .await
                .map_err(db(context))?;
        for migration in pending(POSTGRES, &applied)? {
            script(&mut tx, &migration.render(&self.tables))
                .await
                .map_err(db(context))?;
            sqlx::query(&format!(
                "INSERT INTO {migrations} (version, description, checksum) VALUES ($1, $2, $3)"
            ))
            .bind(migration.version)
            .bind(migration.description)
            .bind(migration.checksum())
            .execute(&mut *tx)
            .await
            .map_err(db(context))?;
            tracing::info!(
                version = migration.version,
                schema,
                prefix = self.tables.prefix,
                "applied migration"
            );
        }
        tx.commit().await.map_err(db(context))
    }

    fn pool(&self) -> SqlPool {
        SqlPool::Postgres(self.pool.clone())
    }

    async fn explain_claim(&self, names: &[String], n: usize) -> Result<String> {
        let now = Utc::now();
        let lines: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN {}", self.sql.claim))
            .bind(now)
            .bind(now)
            .bind(0_i64)
            .bind(names)
            .bind(limit(n))
            .fetch_all(&self.pool)
            .await
            .map_err(db("cannot explain the claim"))?;
        Ok(lines.join("\n"))
    }
}

#[async_trait]
impl JobStore for PgBackend {
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
        let mut tx = self.pool.begin().await.map_err(db(context))?;
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
        let query = sqlx::query(&self.sql.claim)
            .bind(claim.now)
            .bind(claim.lease_until)
            .bind(claim.token.0)
            .bind(claim.names)
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
            .bind(now);
        self.changed(query, "cannot complete a job").await
    }

    async fn complete_jobs(&self, completions: &[Completion]) -> Result<Vec<bool>> {
        if completions.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = completions.iter().map(|c| c.id.as_str()).collect();
        let tokens: Vec<i64> = completions.iter().map(|c| c.token.0).collect();
        let outputs = completions
            .iter()
            .map(|c| json_text(&c.output))
            .collect::<Result<Vec<_>>>()?;
        let times: Vec<DateTime<Utc>> = completions.iter().map(|c| c.now).collect();
        let done: Vec<(String, i64)> = sqlx::query_as(&self.sql.complete_many)
            .bind(ids)
            .bind(tokens)
            .bind(outputs)
            .bind(times)
            .fetch_all(&self.pool)
            .await
            .map_err(db("cannot complete jobs"))?;
        Ok(completions
            .iter()
            .map(|c| {
                done.iter()
                    .any(|(id, token)| id == c.id.as_str() && *token == c.token.0)
            })
            .collect())
    }

    async fn fail_job(&self, id: &JobId, token: LeaseToken, failure: &Failure) -> Result<bool> {
        let record = &failure.record;
        let query = sqlx::query(&self.sql.fail)
            .bind(id.as_str())
            .bind(token.0)
            .bind(failure.retry_at)
            .bind(failure.now)
            .bind(failure.lease_expired)
            .bind(record.id.as_str())
            .bind(record.created)
            .bind(i64::from(record.attempt))
            .bind(record.message.as_bytes());
        self.changed(query, "cannot record a failed attempt").await
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
            .bind(lease_until);
        self.changed(query, "cannot renew a lease").await
    }

    async fn expired_leases(&self, now: DateTime<Utc>, n: usize) -> Result<Vec<Job>> {
        let query = sqlx::query(&self.sql.expired).bind(now).bind(limit(n));
        self.fetch_jobs(query, "cannot read expired leases").await
    }

    async fn cancel_job(&self, id: &JobId, now: DateTime<Utc>) -> Result<Option<JobStatus>> {
        let was: Option<String> = sqlx::query_scalar(&self.sql.cancel)
            .bind(id.as_str())
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("cannot cancel a job"))?;
        was.as_deref().map(row::status).transpose()
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
        let statuses: Vec<&str> = query.statuses.iter().map(|s| s.as_str()).collect();
        let sql = if query.oldest_first {
            &self.sql.list_oldest
        } else {
            &self.sql.list_newest
        };
        let select = sqlx::query(sql)
            .bind(statuses)
            .bind(query.job_name.as_deref())
            .bind(query.limit.map(|n| i64::try_from(n).unwrap_or(i64::MAX)))
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
        let statuses: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
        let rows = sqlx::query(&self.sql.remove)
            .bind(statuses)
            .fetch_all(&self.pool)
            .await
            .map_err(db("cannot remove jobs"))?;
        row::counts(&rows)
    }

    fn wakeups(&self) -> Option<Arc<Notify>> {
        self.listener.as_ref().map(|_| self.wake.clone())
    }
}

#[async_trait]
impl SchedulerStore for PgBackend {
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
        let query = sqlx::query(&self.sql.due_items).bind(now).bind(limit(n));
        self.fetch_items(query, "cannot read due scheduler items")
            .await
    }

    async fn take_item(&self, take: &Take) -> Result<bool> {
        let query = sqlx::query(&self.sql.take_item)
            .bind(take.id.as_str())
            .bind(take.next_call_time)
            .bind(take.retry_time)
            .bind(take.expected_next_call_time)
            .bind(take.now);
        self.changed(query, "cannot take a scheduler item").await
    }
}
