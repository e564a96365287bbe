//! R21 on a private Redis server run with `appendonly yes` and `appendfsync always`: the server
//! is killed (SIGKILL) and started again on its data; every acknowledged change is still there,
//! the open store reconnects by itself, and its wakeup subscription comes back.
//!
//! The server is this test's own (a random port, a temporary directory), so killing it
//! disturbs no other user; it needs the `redis-server` binary and fails when it is missing.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use remote_core::{
    ClaimJobs, ErrorRecord, InsertJobs, Job, JobQuery, JobStore, Lease, LeaseToken, OnConflict,
    Outcome, OutcomeKind, SchedulerItem, SchedulerStore,
};
use remote_redis::{Durability, RedisOptions, RedisStore};
use serde_json::json;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

/// A redis-server process of this test, killed and its directory removed on drop.
struct Server {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl Server {
    fn new() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir = std::env::temp_dir().join(format!(
            "remote-redis-restart-{port}-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("data directory");
        let mut server = Self {
            child: None,
            port,
            dir,
        };
        server.start();
        server
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn start(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server must be installed for this test");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL the server");
            child.wait().expect("reap the server");
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn connect(url: &str) -> RedisStore {
    RedisStore::connect_with(
        url,
        RedisOptions {
            prefix: "restart".to_owned(),
            ..RedisOptions::default()
        },
    )
    .await
    .expect("connect to the private server")
}

/// What a reader sees of the store.
async fn snapshot(store: &RedisStore, jobs: &[Job]) -> remote_core::Result<String> {
    let all = JobQuery {
        oldest_first: true,
        ..JobQuery::default()
    };
    let mut errors = Vec::new();
    for job in jobs {
        errors.push(store.job_errors(&job.id).await?);
    }
    Ok(format!(
        "{:?}\n{:?}\n{:?}\n{:?}",
        store.list_jobs(&all).await?,
        store.count_jobs().await?,
        errors,
        store.list_items().await?
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_keeps_every_acknowledged_change() {
    let mut server = Server::new();
    let store = connect(&server.url()).await;
    assert_eq!(store.durability(), Durability::Always);

    let jobs: Vec<Job> = (0..200)
        .map(|n| {
            Job::queued(
                "echo",
                json!(n),
                3,
                Duration::from_secs(1),
                t0() + TimeDelta::milliseconds(n),
            )
        })
        .collect();
    store
        .insert_jobs(&InsertJobs {
            jobs: &jobs,
            on_conflict: OnConflict::Refuse,
        })
        .await
        .unwrap();
    let names = vec!["echo".to_owned()];
    let now = t0() + TimeDelta::minutes(1);
    let claimed = store
        .claim_jobs(&ClaimJobs {
            names: &names,
            now,
            lease_until: now + TimeDelta::seconds(30),
            token: LeaseToken::random(),
            limit: 60,
        })
        .await
        .unwrap();
    let outcomes: Vec<Outcome> = claimed
        .iter()
        .take(45)
        .enumerate()
        .map(|(n, job)| Outcome {
            lease: Lease {
                id: job.id.clone(),
                token: job.lease_token.unwrap(),
            },
            now,
            kind: match n % 3 {
                0 => OutcomeKind::Completed {
                    output: json!({ "n": n }),
                },
                1 => OutcomeKind::Retry {
                    record: ErrorRecord::new(1, format!("retry {n}"), now),
                    not_before: now + TimeDelta::seconds(1),
                },
                _ => OutcomeKind::Failed {
                    record: ErrorRecord::new(1, format!("failed {n}"), now),
                },
            },
        })
        .collect();
    assert!(store
        .record_outcomes(&outcomes)
        .await
        .unwrap()
        .iter()
        .all(|a| *a));
    store
        .insert_item(&SchedulerItem::delay("echo", 5).with_next_call_time(now))
        .await
        .unwrap();
    let before = snapshot(&store, &jobs).await.unwrap();

    server.kill();
    let err = store.count_jobs().await.unwrap_err();
    assert!(
        err.is_store(),
        "a call while the server is down is a store error: {err}"
    );
    server.start();

    let deadline = Instant::now() + Duration::from_secs(20);
    let after = loop {
        match snapshot(&store, &jobs).await {
            Ok(after) => break after,
            Err(e) => {
                assert!(e.is_store(), "{e}");
                assert!(
                    Instant::now() < deadline,
                    "the store did not reconnect: {e}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert_eq!(
        after, before,
        "the open store, reconnected, reads everything as it was"
    );
    let reopened = connect(&server.url()).await;
    assert_eq!(snapshot(&reopened, &jobs).await.unwrap(), before);

    // The first store's subscription comes back: a job added through the second wakes it.
    let notify = store.wakeups().expect("wakeups");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let woken = notify.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let extra = [Job::queued(
            "echo",
            json!("extra"),
            3,
            Duration::from_secs(1),
            now,
        )];
        reopened
            .insert_jobs(&InsertJobs {
                jobs: &extra,
                on_conflict: OnConflict::Refuse,
            })
            .await
            .unwrap();
        if tokio::time::timeout(Duration::from_millis(500), woken)
            .await
            .is_ok()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the subscription did not come back"
        );
    }
}
