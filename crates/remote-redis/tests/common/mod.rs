//! What the Redis tests share: the test server's URL, stores under fresh random prefixes (so
//! tests never see each other's keys nor a developer's data), and their cleanup.

#![allow(dead_code)]

use std::sync::OnceLock;

use conformance_tests::{StoreFactory, TestStore};
use remote_redis::{redis, RedisOptions, RedisStore};

const REDIS_URL_VAR: &str = "REMOTE_TEST_REDIS_URL";

/// The test server: `REMOTE_TEST_REDIS_URL`, else a container (feature `testcontainers`), else
/// the local server on port 6379 (`scripts/redis-env.sh` starts one when none answers).
pub(crate) fn server_url() -> String {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| match std::env::var(REDIS_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => url,
        _ => unset_url(),
    })
    .clone()
}

#[cfg(feature = "testcontainers")]
fn unset_url() -> String {
    use testcontainers_modules::redis::{Redis, REDIS_PORT};
    use testcontainers_modules::testcontainers::runners::SyncRunner;
    use testcontainers_modules::testcontainers::Container;

    static CONTAINER: OnceLock<Container<Redis>> = OnceLock::new();
    // The blocking runner brings its own runtime, so it must not run on a test's runtime thread.
    std::thread::spawn(|| {
        let container = CONTAINER.get_or_init(|| {
            Redis::default().start().unwrap_or_else(|e| {
                panic!(
                    "{REDIS_URL_VAR} is not set and no Redis container could be started ({e}); \
                     set {REDIS_URL_VAR}=redis://127.0.0.1:6379/"
                )
            })
        });
        let port = container
            .get_host_port_ipv4(REDIS_PORT)
            .unwrap_or_else(|e| panic!("the Redis container exposes no port: {e}"));
        format!("redis://127.0.0.1:{port}/")
    })
    .join()
    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

#[cfg(not(feature = "testcontainers"))]
fn unset_url() -> String {
    "redis://127.0.0.1:6379/".into()
}

/// A prefix no other test uses.
pub(crate) fn fresh_prefix() -> String {
    format!("remote-test-{:016x}", rand::random::<u64>())
}

/// A store under `prefix` on the test server; panics (the test fails) when there is none.
pub(crate) async fn open(prefix: &str) -> RedisStore {
    let options = RedisOptions {
        prefix: prefix.to_owned(),
        ..RedisOptions::default()
    };
    let url = server_url();
    RedisStore::connect_with(&url, options)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "no Redis test server at {url} ({e}); start one with `. scripts/redis-env.sh`, \
                 set {REDIS_URL_VAR}, or enable the `testcontainers` feature with a Docker \
                 engine running"
            )
        })
}

/// A store under a fresh prefix.
pub(crate) async fn fresh_store() -> RedisStore {
    open(&fresh_prefix()).await
}

/// The conformance suite's handles on one case's data: every handle is a store of its own
/// (its own connection and subscription) under the case's random prefix, as another process
/// would open it; the prefix is cleared after the case.
pub(crate) struct RedisCase {
    prefix: String,
}

impl RedisCase {
    /// A case under a fresh prefix.
    pub(crate) fn new() -> Self {
        Self {
            prefix: fresh_prefix(),
        }
    }
}

impl StoreFactory for RedisCase {
    async fn open(&self) -> TestStore {
        TestStore::new(open(&self.prefix).await)
    }

    async fn cleanup(&self) {
        open(&self.prefix)
            .await
            .clear()
            .await
            .expect("clear the case's keys");
    }
}

/// Clears the store under this prefix when the test ends, passed or failed.
pub(crate) struct ClearOnDrop(pub String);

impl Drop for ClearOnDrop {
    fn drop(&mut self) {
        let prefix = self.0.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let _ = open(&prefix).await.clear().await;
            });
        })
        .join()
        .ok();
    }
}

/// Every key under `prefix`, found with SCAN: for tests checking what the store wrote (the
/// store itself never scans the keyspace).
pub(crate) async fn keys_of(store: &RedisStore) -> Vec<String> {
    let mut conn = store.connection();
    let pattern = format!("{{{}}}:*", store.prefix());
    let mut cursor: u64 = 0;
    let mut keys = Vec::new();
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .expect("SCAN");
        keys.extend(batch);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    keys.sort();
    keys
}
