//! The peer: apalis 1.0 with its PostgreSQL, SQLite and Redis storages, doing the same no-op
//! work at the same concurrency. It runs in a scratch PostgreSQL database (apalis keeps its
//! tables in a fixed `apalis` schema), a scratch SQLite file beside the given one, or queues
//! named after the run on the Redis server, all removed afterwards. apalis has no MySQL
//! storage for its 1.0 release: `apalis-mysql` is published only as 1.0.0-rc.8, whose
//! `apalis-sql` 1.0.0-rc.9 does not build against apalis-core 1.0, so MariaDB/MySQL runs
//! without a peer.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use apalis::prelude::*;
use futures::stream::{self, StreamExt};
use remote_redis::redis;
use sqlx09::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx09::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

use crate::stats::rate;
use crate::target::{Kind, Target};
use crate::{pool_size, BenchResult, Settings};

/// Attempts the peer's handler ran in this process.
static HANDLED: AtomicUsize = AtomicUsize::new(0);

/// Drains started, so that each has a queue and a worker name of its own: apalis-redis
/// refuses a worker whose name was active a moment ago, and keeps its queue's done set.
static DRAINS: AtomicUsize = AtomicUsize::new(0);

async fn noop(_job: u64) -> Result<(), BoxDynError> {
    HANDLED.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Where the peer runs for one target.
pub(crate) enum Peer {
    /// A scratch database on the same PostgreSQL server.
    Postgres {
        /// Options of the scratch database.
        options: Box<PgConnectOptions>,
        /// Options of the database the URL names (to drop the scratch one).
        admin: Box<PgConnectOptions>,
        /// The scratch database's name.
        database: String,
    },
    /// A scratch SQLite file beside the given one.
    Sqlite {
        /// Its path.
        path: std::path::PathBuf,
    },
    /// Queues named `<run>_apalis_…` on the given Redis server.
    Redis {
        /// The server's URL.
        url: String,
        /// The stem of the queue names.
        stem: String,
        /// The queues created, to remove their keys.
        queues: std::sync::Mutex<Vec<String>>,
    },
}

impl Peer {
    /// Creates the peer's scratch place; `Err` says why the peer cannot run here.
    pub(crate) async fn prepare(target: &Target) -> BenchResult<Self> {
        match target.kind {
            Kind::Postgres => {
                let admin: PgConnectOptions = target.driver_url().parse()?;
                let database = format!("{}_apalis", target.run_name());
                let pool = PgPoolOptions::new()
                    .max_connections(1)
                    .connect_with(admin.clone())
                    .await?;
                sqlx09::query(sqlx09::AssertSqlSafe(format!(
                    "CREATE DATABASE \"{database}\""
                )))
                .execute(&pool)
                .await
                .map_err(|e| format!("cannot create a scratch database for apalis: {e}"))?;
                pool.close().await;
                let options = admin.clone().database(&database);
                Ok(Peer::Postgres {
                    options: Box::new(options),
                    admin: Box::new(admin),
                    database,
                })
            }
            Kind::Sqlite => {
                let given: SqliteConnectOptions = target.driver_url().parse()?;
                let file = given.get_filename().to_path_buf();
                if file.as_os_str().is_empty() || file.to_string_lossy().contains(":memory:") {
                    return Err("apalis needs an SQLite file; this URL names none".into());
                }
                let mut name = file.file_name().unwrap_or_default().to_os_string();
                name.push(format!(".{}-apalis.db", target.run_name()));
                Ok(Peer::Sqlite {
                    path: file.with_file_name(name),
                })
            }
            Kind::Redis => Ok(Peer::Redis {
                url: target.url.clone(),
                stem: format!("{}_apalis", target.run_name()),
                queues: std::sync::Mutex::new(Vec::new()),
            }),
            _ => Err("apalis has no storage for this backend".into()),
        }
    }

    /// Removes the scratch database or file.
    pub(crate) async fn cleanup(&self) -> BenchResult<()> {
        match self {
            Peer::Postgres {
                admin, database, ..
            } => {
                let pool = PgPoolOptions::new()
                    .max_connections(1)
                    .connect_with((**admin).clone())
                    .await?;
                sqlx09::query(sqlx09::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"
                )))
                .execute(&pool)
                .await?;
                pool.close().await;
            }
            Peer::Sqlite { path } => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    let _ = std::fs::remove_file(file);
                }
            }
            Peer::Redis { url, queues, .. } => {
                let mut conn = apalis_redis::connect(url.as_str()).await?;
                let queues = queues.lock().unwrap_or_else(|e| e.into_inner()).clone();
                for queue in queues {
                    let mut cursor = 0_u64;
                    loop {
                        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                            .arg(cursor)
                            .arg("MATCH")
                            .arg(format!("{queue}:*"))
                            .arg("COUNT")
                            .arg(1000)
                            .query_async(&mut conn)
                            .await?;
                        if !keys.is_empty() {
                            let _: usize =
                                redis::cmd("DEL").arg(&keys).query_async(&mut conn).await?;
                        }
                        if next == 0 {
                            break;
                        }
                        cursor = next;
                    }
                    let _: usize = redis::cmd("ZREM")
                        .arg("core:apalis:queues:list")
                        .arg(format!("{queue}:workers"))
                        .query_async(&mut conn)
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Drains `settings.jobs` tasks pushed up front with an apalis worker of `concurrency`
    /// fetching `batch` tasks at a time; jobs/s until every task is stored as done.
    pub(crate) async fn drain(
        &self,
        settings: &Settings,
        concurrency: usize,
        batch: usize,
    ) -> BenchResult<f64> {
        let n = settings.jobs;
        let k = DRAINS.fetch_add(1, Ordering::Relaxed);
        let queue = match self {
            Peer::Redis { stem, queues, .. } => {
                let queue = format!("{stem}_c{concurrency}_b{batch}_{k}");
                queues
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(queue.clone());
                queue
            }
            _ => format!("bench_c{concurrency}_b{batch}_{k}"),
        };
        let pool_size = pool_size(concurrency);
        let tasks = || stream::iter((0..n as u64).map(|i| TaskBuilder::new(i).build()));
        HANDLED.store(0, Ordering::Relaxed);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let signal = async move {
            let _ = stop_rx.await;
            Ok::<_, std::io::Error>(())
        };
        let (worker, count): (tokio::task::JoinHandle<_>, Box<dyn Fn() -> _ + Send + Sync>);
        let started;
        match self {
            Peer::Postgres { options, .. } => {
                let pool = PgPoolOptions::new()
                    .max_connections(pool_size)
                    .connect_with((**options).clone())
                    .await?;
                apalis_postgres::PostgresStorage::setup(&pool).await?;
                sqlx09::query("TRUNCATE apalis.jobs").execute(&pool).await?;
                let config = apalis_postgres::Config::default()
                    .queue(&queue)
                    .batch_size(batch);
                let mut storage =
                    apalis_postgres::PostgresStorage::<u64>::new(&pool).with_config(config);
                for chunk in tasks().chunks(ENQUEUE_CHUNK).collect::<Vec<_>>().await {
                    storage.push_all(&mut stream::iter(chunk)).await?;
                }
                let built = WorkerBuilder::new(format!("bench-{queue}"))
                    .backend(storage)
                    .concurrency(concurrency)
                    .build(noop);
                started = Instant::now();
                worker = tokio::spawn(built.run_until(signal));
                let sql =
                    "SELECT count(*) FROM apalis.jobs WHERE job_type = $1 AND status = 'Done'";
                count = Box::new(move || {
                    let (pool, queue) = (pool.clone(), queue.clone());
                    Box::pin(async move {
                        let done: i64 = sqlx09::query_scalar(sql)
                            .bind(queue)
                            .fetch_one(&pool)
                            .await?;
                        Ok::<_, crate::BenchError>(usize::try_from(done)?)
                    })
                        as futures::future::BoxFuture<'static, BenchResult<usize>>
                });
            }
            Peer::Sqlite { path } => {
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .busy_timeout(Duration::from_secs(30));
                let pool = SqlitePoolOptions::new()
                    .max_connections(pool_size)
                    .connect_with(options)
                    .await?;
                apalis_sqlite::SqliteStorage::setup(&pool).await?;
                sqlx09::query("DELETE FROM Jobs").execute(&pool).await?;
                let config = apalis_sqlite::Config::default()
                    .queue(&queue)
                    .batch_size(batch);
                let mut storage =
                    apalis_sqlite::SqliteStorage::<u64>::new(&pool).with_config(config);
                for chunk in tasks().chunks(ENQUEUE_CHUNK).collect::<Vec<_>>().await {
                    storage.push_all(&mut stream::iter(chunk)).await?;
                }
                let built = WorkerBuilder::new(format!("bench-{queue}"))
                    .backend(storage)
                    .concurrency(concurrency)
                    .build(noop);
                started = Instant::now();
                worker = tokio::spawn(built.run_until(signal));
                let sql = "SELECT count(*) FROM Jobs WHERE job_type = $1 AND status = 'Done'";
                count = Box::new(move || {
                    let (pool, queue) = (pool.clone(), queue.clone());
                    Box::pin(async move {
                        let done: i64 = sqlx09::query_scalar(sql)
                            .bind(queue)
                            .fetch_one(&pool)
                            .await?;
                        Ok::<_, crate::BenchError>(usize::try_from(done)?)
                    })
                        as futures::future::BoxFuture<'static, BenchResult<usize>>
                });
            }
            Peer::Redis { url, .. } => {
                let conn = apalis_redis::connect(url.as_str()).await?;
                let config = apalis_redis::Config::default()
                    .queue(&queue)
                    .batch_size(batch);
                let done_set = config.done_jobs_set();
                let mut storage =
                    apalis_redis::RedisStorage::<u64>::new(conn.clone()).with_config(config);
                for chunk in tasks().chunks(ENQUEUE_CHUNK).collect::<Vec<_>>().await {
                    storage.push_all(&mut stream::iter(chunk)).await?;
                }
                let built = WorkerBuilder::new(format!("bench-{queue}"))
                    .backend(storage)
                    .concurrency(concurrency)
                    .build(noop);
                started = Instant::now();
                worker = tokio::spawn(built.run_until(signal));
                count = Box::new(move || {
                    let (mut conn, done_set) = (conn.clone(), done_set.clone());
                    Box::pin(async move {
                        let done: usize = redis::cmd("SCARD")
                            .arg(&done_set)
                            .query_async(&mut conn)
                            .await?;
                        Ok::<_, crate::BenchError>(done)
                    })
                        as futures::future::BoxFuture<'static, BenchResult<usize>>
                });
            }
        }
        let deadline = started + settings.timeout;
        let mut result = Err(format!("apalis did not finish {n} jobs in time").into());
        while Instant::now() < deadline {
            if worker.is_finished() {
                result = Err("the apalis worker stopped early".into());
                break;
            }
            if HANDLED.load(Ordering::Relaxed) >= n && count().await? >= n {
                result = Ok(rate(n, started.elapsed()));
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let _ = stop_tx.send(());
        match tokio::time::timeout(Duration::from_secs(30), worker).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => eprintln!("apalis worker: {e}"),
            Ok(Err(e)) => eprintln!("apalis worker task: {e}"),
            Err(_) => eprintln!("apalis worker did not stop within 30 s"),
        }
        result
    }
}

/// Tasks per `push_all` call when filling the peer's queue.
const ENQUEUE_CHUNK: usize = 1000;
