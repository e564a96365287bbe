//! The raw limit: the store's own claim and complete statements issued in a bare loop by
//! `concurrency` tasks, each statement its own commit, with the driver alone (sqlx or the
//! MongoDB driver), on the same tables and indexes as remote.

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use futures::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use mongodb::options::ReturnDocument;
use remote_cli::store::StoreKind;
use remote_core::LeaseToken;
use remote_sql::SqlPool;

use crate::ours::fill;
use crate::stats::rate;
use crate::target::{Open, Target};
use crate::{pool_size, BenchResult, Settings, JOB};

/// remote-sql's PostgreSQL claim (postgres.rs), for one job.
fn pg_claim(jobs: &str) -> String {
    format!(
        "UPDATE {jobs} AS j SET status = 'processing', picked_at = $1, \
           retry_counter = j.retry_counter + 1, lease_until = $2, lease_token = $3 \
         FROM (SELECT id FROM {jobs} \
               WHERE status = 'queued' AND job_name = ANY($4) \
                 AND (retry_time IS NULL OR retry_time <= $1) \
               ORDER BY (queued_at AT TIME ZONE 'UTC'), id LIMIT $5 \
               FOR UPDATE SKIP LOCKED) AS c \
         WHERE j.id = c.id RETURNING j.id"
    )
}

/// remote-sql's PostgreSQL completion of one job.
fn pg_complete(jobs: &str) -> String {
    format!(
        "UPDATE {jobs} SET status = 'completed', output = $3::json, completed_at = $4, \
           lease_until = NULL, lease_token = NULL \
         WHERE id = $1 AND status = 'processing' AND lease_token = $2"
    )
}

/// remote-sql's SQLite claim (sqlite.rs), for one job.
fn sqlite_claim(jobs: &str) -> String {
    format!(
        "UPDATE {jobs} SET status = 'processing', picked_at = $1, \
           retry_counter = retry_counter + 1, lease_until = $2, lease_token = $3 \
         WHERE id IN (SELECT id FROM {jobs} \
           WHERE status = 'queued' AND job_name IN (SELECT value FROM json_each($4)) \
             AND (retry_time IS NULL OR retry_time <= $1) \
           ORDER BY queued_at, id LIMIT $5) \
         RETURNING id"
    )
}

/// remote-sql's SQLite completion of one job.
fn sqlite_complete(jobs: &str) -> String {
    format!(
        "UPDATE {jobs} SET status = 'completed', output = $3, completed_at = $4, \
           lease_until = NULL, lease_token = NULL \
         WHERE id = $1 AND status = 'processing' AND lease_token = $2"
    )
}

/// Drains `settings.jobs` queued jobs with `concurrency` bare claim-one/complete-one loops;
/// jobs/s. `None` for the memory store, which has no statements to issue.
pub async fn drain(
    target: &Target,
    settings: &Settings,
    concurrency: usize,
) -> BenchResult<Option<f64>> {
    if target.kind == StoreKind::Memory {
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
    let table = target.jobs_table(&space);
    let started = Instant::now();
    let deadline = started + settings.timeout;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        match (&store.sql, target.kind) {
            (Some(SqlPool::Postgres(pool)), _) => {
                let (pool, claim, complete) = (pool.clone(), pg_claim(&table), pg_complete(&table));
                tasks.spawn(async move {
                    let names = vec![JOB.to_string()];
                    let mut done = 0_usize;
                    while Instant::now() < deadline {
                        let now = Utc::now();
                        let token = LeaseToken::random().0;
                        let id: Option<String> = sqlx::query_scalar(&claim)
                            .bind(now)
                            .bind(now + chrono::Duration::seconds(30))
                            .bind(token)
                            .bind(&names)
                            .bind(1_i64)
                            .fetch_optional(&pool)
                            .await?;
                        let Some(id) = id else { break };
                        sqlx::query(&complete)
                            .bind(id)
                            .bind(token)
                            .bind("null")
                            .bind(Utc::now())
                            .execute(&pool)
                            .await?;
                        done += 1;
                    }
                    Ok::<_, crate::BenchError>(done)
                });
            }
            (Some(SqlPool::Sqlite(pool)), _) => {
                let (pool, claim, complete) =
                    (pool.clone(), sqlite_claim(&table), sqlite_complete(&table));
                tasks.spawn(async move {
                    let names = serde_json::to_string(&[JOB])?;
                    let mut done = 0_usize;
                    while Instant::now() < deadline {
                        let now = Utc::now().timestamp_millis();
                        let token = LeaseToken::random().0;
                        let id: Option<String> = sqlx::query_scalar(&claim)
                            .bind(now)
                            .bind(now + 30_000)
                            .bind(token)
                            .bind(&names)
                            .bind(1_i64)
                            .fetch_optional(&pool)
                            .await?;
                        let Some(id) = id else { break };
                        sqlx::query(&complete)
                            .bind(id)
                            .bind(token)
                            .bind("null")
                            .bind(Utc::now().timestamp_millis())
                            .execute(&pool)
                            .await?;
                        done += 1;
                    }
                    Ok::<_, crate::BenchError>(done)
                });
            }
            (_, StoreKind::Mongo) => {
                let jobs = Arc::new(
                    mongodb::Client::with_uri_str(&target.url)
                        .await?
                        .database(&target.mongo_database())
                        .collection::<Document>(&format!("{}jobs", space.prefix)),
                );
                tasks.spawn(mongo_loop(jobs, deadline));
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

/// One bare MongoDB worker claiming as remote-mongo does (a sorted read of candidate ids, then
/// `find_one_and_update` by `_id` until one is taken) and completing with `update_one`.
async fn mongo_loop(
    jobs: Arc<mongodb::Collection<Document>>,
    deadline: Instant,
) -> BenchResult<usize> {
    let names = vec![JOB.to_string()];
    let mut done = 0;
    while Instant::now() < deadline {
        let now = mongodb::bson::DateTime::now();
        let token = LeaseToken::random().0;
        let lease = mongodb::bson::DateTime::from_millis(now.timestamp_millis() + 30_000);
        let claimable = doc! { "status": "queued", "retry_time": { "$not": { "$gt": now } } };
        let mut read = claimable.clone();
        read.insert("job_name", doc! { "$in": &names });
        let candidates: Vec<Document> = jobs
            .find(read)
            .sort(doc! { "queued_at": 1, "_id": 1 })
            .projection(doc! { "_id": 1 })
            .limit(17)
            .await?
            .try_collect()
            .await?;
        if candidates.is_empty() {
            break;
        }
        let mut claimed = None;
        for candidate in candidates {
            let mut filter = claimable.clone();
            filter.insert("_id", candidate.get_object_id("_id")?);
            claimed = jobs
                .find_one_and_update(
                    filter,
                    doc! {
                        "$set": {
                            "status": "processing",
                            "picked_at": now,
                            "lease_until": lease,
                            "lease_token": token,
                        },
                        "$inc": { "retry_counter": 1_i64 },
                    },
                )
                .projection(doc! { "_id": 1 })
                .return_document(ReturnDocument::After)
                .await?;
            if claimed.is_some() {
                break;
            }
        }
        let Some(claimed) = claimed else { continue };
        let id = claimed.get_object_id("_id")?;
        jobs.update_one(
            doc! { "_id": id, "status": "processing", "lease_token": token },
            doc! {
                "$set": {
                    "status": "completed",
                    "output": "null",
                    "completed_at": mongodb::bson::DateTime::now(),
                    "lease_until": Bson::Null,
                    "lease_token": Bson::Null,
                },
            },
        )
        .await?;
        done += 1;
    }
    Ok(done)
}
