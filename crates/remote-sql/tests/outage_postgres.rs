//! R22 on PostgreSQL: a database that goes away and comes back.
//!
//! The store talks to the server through a TCP proxy that the test controls: cutting it drops
//! every open connection and refuses new ones, as a crashed or unreachable server would. While
//! it is cut, calls are store errors; the job worker backs off and keeps running; when the
//! proxy is restored, every job completes, none is lost and no attempt runs twice.

#![cfg(feature = "postgres")]

mod common;

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{postgres_url, Db, Space};
use remote_core::{
    handler_fn, JobContext, JobError, JobFactory, JobId, JobStatus, Processor, WorkerConfig,
};
use serde_json::json;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A TCP proxy to the test server that can be cut (every connection dropped, new ones
/// refused) and restored.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    cut: watch::Sender<u64>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let up = Arc::new(AtomicBool::new(true));
        let (cut, _) = watch::channel(0_u64);
        let (accept_up, accept_cut) = (up.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !accept_up.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let upstream = upstream.clone();
                let mut cut = accept_cut.subscribe();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let (mut client, mut server) = (client, server);
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Self { port, up, cut }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_goes_away_and_comes_back_loses_and_repeats_nothing() {
    let url = postgres_url();
    let direct = PgConnectOptions::from_str(&url).expect("test URL");
    let upstream = format!("{}:{}", direct.get_host(), direct.get_port());
    let proxy = Proxy::start(upstream).await;
    let space = Space::new(Db::Postgres);
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(2))
        .connect_with(direct.clone().host("127.0.0.1").port(proxy.port))
        .await
        .expect("a pool through the proxy");
    let store = space
        .options()
        .from_pool(pool)
        .await
        .expect("store through the proxy");

    let runs: Arc<Mutex<HashMap<(JobId, u32), u32>>> = Arc::default();
    let seen = runs.clone();
    let processor = Processor::builder(store)
        .lease(Duration::from_secs(3))
        .recover_interval(Duration::from_millis(500))
        .worker(WorkerConfig::multi(4).wait_time(Duration::from_millis(50)))
        .build();
    processor
        .register(
            JobFactory::new(
                "work",
                handler_fn(move |ctx: JobContext| {
                    let seen = seen.clone();
                    async move {
                        *seen
                            .lock()
                            .expect("runs")
                            .entry((ctx.job_id.clone(), ctx.attempt))
                            .or_default() += 1;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        Ok::<_, JobError>(json!(ctx.attempt))
                    }
                }),
            )
            .max_attempts(100)
            .retry_delay(Duration::from_millis(100)),
        )
        .expect("register");
    let ids = processor
        .add_jobs("work", (0..300).map(|n| json!(n)).collect())
        .await
        .expect("add");
    processor.start_processor();

    let completed = |p: Processor| async move {
        p.count_jobs()
            .await
            .map(|c| c.get(&JobStatus::Completed).copied().unwrap_or(0))
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while completed(processor.clone()).await.unwrap_or(0) < 50 {
        assert!(Instant::now() < deadline, "the worker never got going");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    proxy.cut();
    let mut errors = 0;
    let down = Instant::now();
    while down.elapsed() < Duration::from_secs(3) {
        if let Err(e) = processor.count_jobs().await {
            assert!(e.is_store(), "a lost database is a store error: {e:?}");
            errors += 1;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(errors > 0, "calls failed while the database was away");
    assert!(processor.is_processing(), "the worker survives the outage");
    proxy.restore();

    while completed(processor.clone()).await.unwrap_or(0) < ids.len() as u64 {
        assert!(
            Instant::now() < deadline,
            "not every job completed after the database came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    processor.stop_processor().await;

    let runs = runs.lock().expect("runs").clone();
    for id in &ids {
        let job = processor.get_job(id).await.expect("job kept");
        assert_eq!(job.status, JobStatus::Completed);
        let errors = processor.job_errors(id).await.expect("errors");
        assert!(
            errors.iter().all(|r| r.message.starts_with("worker lost")),
            "only lease recoveries fail an attempt: {errors:?}"
        );
        assert_eq!(
            job.attempt as usize,
            errors.len() + 1,
            "one outcome per attempt"
        );
        assert_eq!(job.output, Some(json!(job.attempt)));
        for attempt in 1..=job.attempt {
            assert!(
                runs.get(&(id.clone(), attempt)).copied().unwrap_or(0) <= 1,
                "attempt {attempt} of {id} ran twice"
            );
        }
    }
    space.clean_up().await;
}
