//! What the Redis tests share: the test server's URL, stores under fresh random prefixes (so
//! tests never see each other's keys nor a developer's data), and their cleanup.

#![allow(dead_code)]

use conformance_tests::{StoreFactory, TestStore};
use remote_redis::{redis, RedisOptions, RedisStore};

/// The test server: `REMOTE_TEST_REDIS_URL`, by default the local server on port 6379
/// (`scripts/redis-env.sh` starts one when none answers).
pub(crate) fn server_url() -> String {
    std::env::var("REMOTE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into())
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
                "no Redis test server at {url} ({e}); start one with `. scripts/redis-env.sh` \
                 or set REMOTE_TEST_REDIS_URL"
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
