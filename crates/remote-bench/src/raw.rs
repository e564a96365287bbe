//! The raw limit: the store's own claim and complete operations issued in a bare loop by
//! `concurrency` tasks, one job per claim, each its own commit, with the driver alone, on the
//! same tables and indexes as remote.
//!
//! The SQL is not copied here: it is the text remote-sql sends, read from the store
//! ([`SqlStore::query_text`]) with its parameters bound by name in the store's order
//! ([`SqlStore::query_params`]). PostgreSQL: `claim_jobs` (one `UPDATE … RETURNING`) and
//! `record_outcomes` (the batch statement, for one job). SQLite: `claim_jobs` and
//! `record_outcomes` (the batch statement over JSON rows, for one job). MariaDB/MySQL: `pick_jobs` (`SELECT … FOR UPDATE SKIP LOCKED`) and
//! `claim_picked_jobs` in one transaction, then `record_outcome`. MongoDB: remote-mongo's
//! three-command claim (a sorted read of candidate ids, an `updateMany` marking the taken ones,
//! a read back by the mark) and a one-entry `bulkWrite`, with the driver. Redis: the store's
//! own claim and outcome calls, one script each, without the processor around them.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::bson::{doc, oid::ObjectId, Bson, Document};
use mongodb::options::{Hint, UpdateOneModel, WriteModel};
use remote_core::{ClaimJobs, JobStore, Lease, LeaseToken, Outcome, OutcomeKind};
use remote_sql::{SqlPool, SqlStore};
use serde_json::Value;
use sqlx::Row as _;

use crate::ours::fill;
use crate::stats::rate;
use crate::target::{Kind, Open, Target};
use crate::{pool_size, BenchResult, Settings, JOB};

/// Lease of a raw claim.
const LEASE_MS: i64 = 30_000;

/// A parameter value as the raw loop gives it; each dialect binds it as remote-sql does
/// (PostgreSQL: times as `timestamptz`, lists as arrays, free text as bytes; SQLite and MySQL:
/// times as integer milliseconds, lists as JSON text).
#[derive(Clone, Debug)]
enum V {
    Text(String),
    OptText(Option<String>),
    Int(i64),
    OptInt(Option<i64>),
    Bool(bool),
    Time(DateTime<Utc>),
    OptTime(Option<DateTime<Utc>>),
    /// Text that may hold NUL (error messages).
    OptFree(Option<String>),
    Texts(Vec<String>),
    OptTexts(Vec<Option<String>>),
    Ints(Vec<i64>),
    OptInts(Vec<Option<i64>>),
    Times(Vec<DateTime<Utc>>),
    OptTimes(Vec<Option<DateTime<Utc>>>),
    OptFrees(Vec<Option<String>>),
}

impl V {
    /// A list as JSON text, times as milliseconds (how SQLite and MySQL take lists).
    fn json(&self) -> String {
        let ms = |t: &DateTime<Utc>| Value::from(t.timestamp_millis());
        let value = match self {
            V::Texts(v) => Value::from(v.clone()),
            V::OptTexts(v) | V::OptFrees(v) => Value::from(v.clone()),
            V::Ints(v) => Value::from(v.clone()),
            V::OptInts(v) => Value::from(v.clone()),
            V::Times(v) => Value::Array(v.iter().map(ms).collect()),
            V::OptTimes(v) => Value::Array(
                v.iter()
                    .map(|t| t.as_ref().map_or(Value::Null, ms))
                    .collect(),
            ),
            _ => Value::Null,
        };
        value.to_string()
    }
}

/// Named values of one statement call.
type Args = Vec<(&'static str, V)>;

/// One of the store's statements: its text and its parameter names in bind order.
struct Statement {
    name: &'static str,
    sql: String,
    params: Vec<String>,
}

impl Statement {
    /// The statement `name` as `store` sends it.
    fn of(store: &SqlStore, name: &'static str) -> BenchResult<Self> {
        let sql = store
            .query_text(name)
            .ok_or_else(|| format!("the store has no statement {name}"))?;
        let params = store
            .query_params(name)
            .ok_or_else(|| format!("the store has no parameters of {name}"))?;
        Ok(Self {
            name,
            sql: sql.to_string(),
            params: params.to_vec(),
        })
    }

    /// The values in bind order, picked by name from `args`.
    fn values(&self, args: &[(&'static str, V)]) -> BenchResult<Vec<V>> {
        self.params
            .iter()
            .map(|name| {
                args.iter()
                    .find(|(given, _)| given == name)
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| {
                        format!(
                            "the statement {} takes :{name}, which the raw loop does not give",
                            self.name
                        )
                        .into()
                    })
            })
            .collect()
    }

    fn pg(&self, args: &[(&'static str, V)]) -> BenchResult<PgQuery<'_>> {
        let mut q = sqlx::query(&self.sql);
        for v in self.values(args)? {
            q = match v {
                V::Text(v) => q.bind(v),
                V::OptText(v) => q.bind(v),
                V::Int(v) => q.bind(v),
                V::OptInt(v) => q.bind(v),
                V::Bool(v) => q.bind(v),
                V::Time(v) => q.bind(v),
                V::OptTime(v) => q.bind(v),
                V::OptFree(v) => q.bind(v.map(String::into_bytes)),
                V::Texts(v) => q.bind(v),
                V::OptTexts(v) => q.bind(v),
                V::Ints(v) => q.bind(v),
                V::OptInts(v) => q.bind(v),
                V::Times(v) => q.bind(v),
                V::OptTimes(v) => q.bind(v),
                V::OptFrees(v) => q.bind(
                    v.into_iter()
                        .map(|s| s.map(String::into_bytes))
                        .collect::<Vec<_>>(),
                ),
            };
        }
        Ok(q)
    }

    fn sqlite(&self, args: &[(&'static str, V)]) -> BenchResult<SqliteQuery<'_>> {
        let mut q = sqlx::query(&self.sql);
        for v in self.values(args)? {
            q = match v {
                V::Text(v) => q.bind(v),
                V::OptText(v) | V::OptFree(v) => q.bind(v),
                V::Int(v) => q.bind(v),
                V::OptInt(v) => q.bind(v),
                V::Bool(v) => q.bind(v),
                V::Time(v) => q.bind(v.timestamp_millis()),
                V::OptTime(v) => q.bind(v.map(|t| t.timestamp_millis())),
                list => q.bind(list.json()),
            };
        }
        Ok(q)
    }

    fn mysql(&self, args: &[(&'static str, V)]) -> BenchResult<MySqlQuery<'_>> {
        let mut q = sqlx::query(&self.sql);
        for v in self.values(args)? {
            q = match v {
                V::Text(v) => q.bind(v),
                V::OptText(v) => q.bind(v),
                V::OptFree(v) => q.bind(v.map(String::into_bytes)),
                V::Int(v) => q.bind(v),
                V::OptInt(v) => q.bind(v),
                V::Bool(v) => q.bind(v),
                V::Time(v) => q.bind(v.timestamp_millis()),
                V::OptTime(v) => q.bind(v.map(|t| t.timestamp_millis())),
                list => q.bind(list.json()),
            };
        }
        Ok(q)
    }
}

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;
type SqliteQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>;
type MySqlQuery<'q> = sqlx::query::Query<'q, sqlx::MySql, sqlx::mysql::MySqlArguments>;

/// The values of a one-job claim.
fn claim_args(now: DateTime<Utc>, token: i64) -> Args {
    vec![
        ("now", V::Time(now)),
        (
            "lease_until",
            V::Time(now + chrono::Duration::milliseconds(LEASE_MS)),
        ),
        ("token", V::Int(token)),
        ("names", V::Texts(vec![JOB.to_string()])),
        ("limit", V::Int(1)),
    ]
}

/// The values of one completion (output `null`), as `record_outcome` takes them.
fn completion(id: &str, token: i64, now: DateTime<Utc>) -> Args {
    vec![
        ("id", V::Text(id.to_string())),
        ("token", V::Int(token)),
        ("now", V::Time(now)),
        ("kind", V::Text("completed".into())),
        ("output", V::OptText(Some("null".into()))),
        ("not_before", V::OptTime(None)),
        ("record_id", V::OptText(None)),
        ("created", V::OptTime(None)),
        ("record_attempt", V::OptInt(None)),
        ("message", V::OptFree(None)),
        ("rescue", V::Bool(false)),
    ]
}

/// The same completion as a batch of one row, as SQLite's `record_outcomes` takes it: the
/// row as JSON, times in milliseconds.
fn completion_row(id: &str, token: i64, now: DateTime<Utc>) -> Args {
    let row = serde_json::json!([{
        "id": id,
        "token": token,
        "now": now.timestamp_millis(),
        "kind": "completed",
        "output": "null",
    }]);
    vec![
        ("rows", V::Text(row.to_string())),
        ("rescue", V::Bool(false)),
    ]
}

/// The same completion as a batch of one, as `record_outcomes` takes it.
fn completions(id: &str, token: i64, now: DateTime<Utc>) -> Args {
    vec![
        ("id", V::Texts(vec![id.to_string()])),
        ("token", V::Ints(vec![token])),
        ("now", V::Times(vec![now])),
        ("kind", V::Texts(vec!["completed".into()])),
        ("output", V::OptTexts(vec![Some("null".into())])),
        ("not_before", V::OptTimes(vec![None])),
        ("record_id", V::OptTexts(vec![None])),
        ("created", V::OptTimes(vec![None])),
        ("record_attempt", V::OptInts(vec![None])),
        ("message", V::OptFrees(vec![None])),
        ("rescue", V::Bool(false)),
    ]
}

/// Drains `settings.jobs` queued jobs with `concurrency` bare claim-one/complete-one loops;
/// jobs/s. `None` for the memory store, which has no operations of its own to issue.
pub(crate) async fn drain(
    target: &Target,
    settings: &Settings,
    concurrency: usize,
) -> BenchResult<Option<f64>> {
    if target.kind == Kind::Memory {
        return Ok(None);
    }
    let space = target.space();
    let store = target
        .open(
            &space,
            Open {
                pool: pool_size(concurrency),
                wakeups: false,
            },
        )
        .await?;
    let n = settings.jobs;
    fill(target, &space, &store, n).await?;
    let started = Instant::now();
    let deadline = started + settings.timeout;
    let mut tasks = tokio::task::JoinSet::new();
    let sql = store.sql.clone();
    for _ in 0..concurrency {
        match (target.kind, sql.as_ref().map(|s| (s, s.pool()))) {
            (Kind::Postgres, Some((s, SqlPool::Postgres(pool)))) => {
                let claim = Statement::of(s, "claim_jobs")?;
                let complete = Statement::of(s, "record_outcomes")?;
                tasks.spawn(async move {
                    let mut done = 0_usize;
                    while Instant::now() < deadline {
                        let now = Utc::now();
                        let token = LeaseToken::random().as_i64();
                        let rows = claim.pg(&claim_args(now, token))?.fetch_all(&pool).await?;
                        let Some(row) = rows.first() else { break };
                        let id: String = row.try_get("id")?;
                        let ended = complete
                            .pg(&completions(&id, token, Utc::now()))?
                            .fetch_all(&pool)
                            .await?;
                        check_one(ended.len())?;
                        done += 1;
                    }
                    Ok::<_, crate::BenchError>(done)
                });
            }
            (Kind::Sqlite, Some((s, SqlPool::Sqlite(pool)))) => {
                let claim = Statement::of(s, "claim_jobs")?;
                let complete = Statement::of(s, "record_outcomes")?;
                tasks.spawn(async move {
                    let mut done = 0_usize;
                    while Instant::now() < deadline {
                        let now = Utc::now();
                        let token = LeaseToken::random().as_i64();
                        let rows = claim
                            .sqlite(&claim_args(now, token))?
                            .fetch_all(&pool)
                            .await?;
                        let Some(row) = rows.first() else { break };
                        let id: String = row.try_get("id")?;
                        let ended = complete
                            .sqlite(&completion_row(&id, token, Utc::now()))?
                            .fetch_all(&pool)
                            .await?;
                        check_one(ended.len())?;
                        done += 1;
                    }
                    Ok::<_, crate::BenchError>(done)
                });
            }
            (Kind::MySql, Some((s, SqlPool::MySql(pool)))) => {
                let pick = Statement::of(s, "pick_jobs")?;
                let claim = Statement::of(s, "claim_picked_jobs")?;
                let complete = Statement::of(s, "record_outcome")?;
                tasks.spawn(async move {
                    let mut done = 0_usize;
                    while Instant::now() < deadline {
                        let now = Utc::now();
                        let token = LeaseToken::random().as_i64();
                        let mut args = claim_args(now, token);
                        let claimed = async {
                            let mut tx = pool.begin_with(MYSQL_BEGIN).await?;
                            let rows = pick.mysql(&args)?.fetch_all(&mut *tx).await?;
                            let Some(row) = rows.first() else {
                                return Ok::<_, crate::BenchError>(None);
                            };
                            let id = text(row, "id")?;
                            args.push(("ids", V::Texts(vec![id.clone()])));
                            claim.mysql(&args)?.execute(&mut *tx).await?;
                            tx.commit().await?;
                            Ok(Some(id))
                        }
                        .await;
                        let id = match claimed {
                            Ok(Some(id)) => id,
                            Ok(None) => break,
                            Err(e) if deadlock(e.as_ref()) => continue,
                            Err(e) => return Err(e),
                        };
                        let ended = complete
                            .mysql(&completion(&id, token, Utc::now()))?
                            .execute(&pool)
                            .await?;
                        check_one(usize::try_from(ended.rows_affected())?)?;
                        done += 1;
                    }
                    Ok::<_, crate::BenchError>(done)
                });
            }
            (Kind::Mongo, _) => {
                let jobs = mongodb::Client::with_uri_str(&target.url)
                    .await?
                    .database(target.run_name())
                    .collection::<Document>(&format!("{}jobs", space.prefix));
                tasks.spawn(mongo_loop(Arc::new(jobs), deadline));
            }
            (Kind::Redis, _) => {
                tasks.spawn(store_loop(store.jobs.clone(), deadline));
            }
            _ => return Err("no raw loop for this store".into()),
        }
    }
    let mut done = 0;
    while let Some(joined) = tasks.join_next().await {
        done += joined.map_err(|e| e.to_string())??;
    }
    let elapsed = started.elapsed();
    if done < n {
        return Err(format!("the raw loop finished only {done} of {n} jobs in time").into());
    }
    Ok(Some(rate(n, elapsed)))
}

/// A completion must end exactly the attempt just claimed.
fn check_one(ended: usize) -> BenchResult<()> {
    if ended == 1 {
        Ok(())
    } else {
        Err(format!("a completion ended {ended} attempts instead of 1").into())
    }
}

/// How remote-sql opens a MariaDB/MySQL transaction: read committed, so that claims and
/// outcomes do not deadlock on InnoDB's gap locks (the dialect's setting, which the store does
/// not expose as text).
const MYSQL_BEGIN: &str = "SET TRANSACTION ISOLATION LEVEL READ COMMITTED; START TRANSACTION";

/// True for a deadlock or serialization failure, after which the store's caller claims again.
fn deadlock(error: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    error
        .downcast_ref::<sqlx::Error>()
        .and_then(sqlx::Error::as_database_error)
        .and_then(|e| e.code())
        .is_some_and(|code| code == "40001")
}

/// A MySQL text column: the id columns are of a binary collation, which sqlx reads as bytes.
fn text(row: &sqlx::mysql::MySqlRow, column: &str) -> BenchResult<String> {
    let bytes: Vec<u8> = row.try_get(column)?;
    Ok(String::from_utf8(bytes)?)
}

/// One bare worker calling the store's own claim (one job) and outcome operations.
async fn store_loop(store: Arc<dyn JobStore>, deadline: Instant) -> BenchResult<usize> {
    let names = vec![JOB.to_string()];
    let mut done = 0;
    while Instant::now() < deadline {
        let now = Utc::now();
        let token = LeaseToken::random();
        let claimed = store
            .claim_jobs(&ClaimJobs {
                names: &names,
                now,
                lease_until: now + chrono::Duration::milliseconds(LEASE_MS),
                token,
                limit: 1,
            })
            .await?;
        let Some(job) = claimed.into_iter().next() else {
            break;
        };
        let ended = store
            .record_outcomes(&[Outcome {
                lease: Lease { id: job.id, token },
                now: Utc::now(),
                kind: OutcomeKind::Completed {
                    output: Value::Null,
                },
            }])
            .await?;
        check_one(ended.iter().filter(|e| **e).count())?;
        done += 1;
    }
    Ok(done)
}

/// Candidates read beyond the claim's size, as remote-mongo reads them.
const CANDIDATE_SLACK: i64 = 16;

/// One bare MongoDB worker claiming one job in remote-mongo's three commands — a sorted read of
/// up to 1 + 16 candidate ids on the claim index, an `updateMany` by `_id` that re-checks the
/// job is claimable and marks it with this claim's id (the next candidate is tried when another
/// worker took it), a read back by the mark — and completing it with a one-entry `bulkWrite`
/// fenced by the lease token.
async fn mongo_loop(
    jobs: Arc<mongodb::Collection<Document>>,
    deadline: Instant,
) -> BenchResult<usize> {
    let names = vec![JOB.to_string()];
    let client = jobs.client().clone();
    let namespace = jobs.namespace();
    let mut done = 0;
    while Instant::now() < deadline {
        let now = mongodb::bson::DateTime::now();
        let token = LeaseToken::random().as_i64();
        let lease = mongodb::bson::DateTime::from_millis(now.timestamp_millis() + LEASE_MS);
        let marker = ObjectId::new();
        let claimable = doc! { "status": "queued", "not_before": { "$not": { "$gt": now } } };
        let mut read = claimable.clone();
        read.insert("job_name", doc! { "$in": &names });
        let candidates: Vec<Document> = jobs
            .find(read)
            .sort(doc! { "queued_at": 1, "_id": 1 })
            .hint(Hint::Name("status_queued_at_id".into()))
            .projection(doc! { "_id": 1 })
            .limit(1 + CANDIDATE_SLACK)
            .batch_size(u32::try_from(1 + CANDIDATE_SLACK)?)
            .await?
            .try_collect()
            .await?;
        if candidates.is_empty() {
            break;
        }
        let mut taken = None;
        for candidate in candidates {
            let id = candidate.get_object_id("_id")?;
            let mut filter = claimable.clone();
            filter.insert("_id", doc! { "$in": [id] });
            let result = jobs
                .update_many(
                    filter,
                    doc! {
                        "$set": {
                            "status": "processing",
                            "picked_at": now,
                            "lease_until": lease,
                            "lease_token": token,
                            "claim_id": marker,
                        },
                        "$inc": { "attempt": 1_i64 },
                    },
                )
                .hint(Hint::Name("_id_".into()))
                .await?;
            if result.matched_count == 1 {
                taken = Some(id);
                break;
            }
        }
        let Some(id) = taken else { continue };
        let claimed: Vec<Document> = jobs
            .find(doc! {
                "_id": { "$in": [id] },
                "claim_id": marker,
                "status": "processing",
                "lease_token": token,
            })
            .hint(Hint::Name("_id_".into()))
            .projection(doc! { "errors": 0 })
            .limit(1)
            .batch_size(1)
            .await?
            .try_collect()
            .await?;
        if claimed.len() != 1 {
            return Err(format!("job {id} was claimed but not read back").into());
        }
        let complete = UpdateOneModel::builder()
            .namespace(namespace.clone())
            .filter(doc! { "_id": id, "status": "processing", "lease_token": token })
            .update(doc! {
                "$set": {
                    "lease_until": Bson::Null,
                    "lease_token": Bson::Null,
                    "status": "completed",
                    "output": "null",
                    "completed_at": mongodb::bson::DateTime::now(),
                },
            })
            .build();
        let result = client
            .bulk_write([WriteModel::from(complete)])
            .ordered(true)
            .verbose_results()
            .await?;
        let ended = result
            .update_results
            .get(&0)
            .is_some_and(|r| r.matched_count == 1);
        check_one(usize::from(ended))?;
        done += 1;
    }
    Ok(done)
}
