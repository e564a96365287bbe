//! The peer: apalis 1.0 with its PostgreSQL and SQLite storages, doing the same no-op work at
//! the same concurrency. It runs in a scratch PostgreSQL database (apalis keeps its tables in a
//! fixed `apalis` schema) or a scratch SQLite file beside the given one, both removed afterwards.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use apalis::prelude::*;
use futures::stream::{self, StreamExt};
use remote_cli::store::StoreKind;
use sqlx09::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx09::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

use crate::stats::rate;
use crate::target::Target;
use crate::{pool_size, BenchResult, Settings};

/// Attempts the peer's handler ran in this process.
static HANDLED: AtomicUsize = AtomicUsize::new(0);

async fn noop(_job: u64) -> Result<(), BoxDynError> {
    HANDLED.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Where the peer runs for one target.
pub enum Peer {
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
}

impl Peer {
    /// Creates the peer's scratch place; `Err` says why the peer cannot run here.
    pub async fn prepare(target: &Target) -> BenchResult<Self> {
        match target.kind {
            StoreKind::Postgres => {
                let admin: PgConnectOptions = target.sql_url().parse()?;
                let database = format!("{}_apalis", target.pg_schema());
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
            StoreKind::Sqlite => {
                let given: SqliteConnectOptions = target.sql_url().parse()?;
                let file = given.get_filename().to_path_buf();
                if file.as_os_str().is_empty() || file.to_string_lossy().contains(":memory:") {
                    return Err("apalis needs an SQLite file; this URL names none".into());
                }
                let mut name = file.file_name().unwrap_or_default().to_os_string();
                name.push(format!(".{}-apalis.db", target.pg_schema()));
                Ok(Peer::Sqlite {
                    path: file.with_file_name(name),
                })
            }
            _ => Err("apalis has no storage for this backend".into()),
        }
    }

    /// Removes the scratch database or file.
    pub async fn cleanup(&self) -> BenchResult<()> {
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
        }
        Ok(())
    }

    /// Drains `settings.jobs` tasks pushed up front with an apalis worker of `concurrency`
    /// fetching `batch` tasks at a time; jobs/s until every task is stored as done.
    pub async fn drain(
        &self,
        settings: &Settings,
        concurrency: usize,
        batch: usize,
    ) -> BenchResult<f64> {
        let n = settings.jobs;
        let queue = format!("bench_c{concurrency}_b{batch}");
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
