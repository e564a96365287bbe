//! Options, connecting, and the script calls every part of the store makes.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script, Value};
use remote_core::{Error, Result};
use tokio::sync::Notify;

use crate::codec::{self, Args};
use crate::durability::{self, Durability};
use crate::scripts::SCRIPTS;
use crate::tls;
use crate::wakeups::{self, Subscriber};

/// The layout of keys and fields this build reads and writes; stored under `{prefix}:layout`
/// when a store is first opened, and checked at every open.
pub const LAYOUT_VERSION: &str = "5";

/// The layout before priorities and unique keys, which opening upgrades in place.
const LAYOUT_1: &str = "1";

/// The layout with status and removal indexes across names too, which opening upgrades in
/// place.
const LAYOUT_2: &str = "2";

/// The layout with a status index of processing jobs per name, which opening upgrades in
/// place.
const LAYOUT_3: &str = "3";

/// The layout with every field of a job in a field of its own, which opening upgrades in
/// place.
const LAYOUT_4: &str = "4";

/// Jobs upgraded per script call, so that no single call keeps the server busy for long.
const UPGRADE_BATCH: usize = 1_000;

/// Jobs deleted per script call when a call removes without a limit, so that no single call
/// keeps the server busy for long.
pub(crate) const DELETE_BATCH: usize = 1_000;

/// How [`RedisStore::connect_with`] opens a store.
#[derive(Clone, Debug)]
pub struct RedisOptions {
    /// Every key of the store is `{<prefix>}:…`: the braces make it a cluster hash tag, so all
    /// keys of one store share one slot and its scripts run on Redis Cluster too. Stores with
    /// different prefixes are independent queues on one server. Default `remote`; may not
    /// contain `{` or `}`.
    pub prefix: String,
    /// Longest wait for a connection to the server; default 5 s.
    pub connection_timeout: Duration,
    /// Longest wait for the reply to one call before it fails as a store error; default 10 s.
    pub response_timeout: Duration,
    /// Subscribe to the store's channel so that idle workers wake when another process adds
    /// or releases a job; default `true` (off: workers poll).
    pub wakeups: bool,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            prefix: "remote".to_owned(),
            connection_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(10),
            wakeups: true,
        }
    }
}

/// A job and scheduler store in one Redis server (or one slot of a Redis Cluster).
///
/// Cloning is cheap and shares the connection and the wakeup subscription.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    conn: ConnectionManager,
    prefix: String,
    /// `{prefix}`, passed as the one declared key of every script (it routes the call to the
    /// store's slot; the scripts build the other key names from it).
    base: String,
    notify: Option<Arc<Notify>>,
    durability: Durability,
    _subscriber: Option<Subscriber>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.inner.prefix)
            .field("durability", &self.inner.durability)
            .field("wakeups", &self.inner.notify.is_some())
            .finish()
    }
}

impl RedisStore {
    /// Connects to `url` (`redis://[user:password@]host:port/db`, or `rediss://…` over TLS
    /// with the `tls` feature) and opens the store under the default prefix `remote`.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, RedisOptions::default()).await
    }

    /// Connects to `url` and opens the store with `options`: checks the stored layout version
    /// (upgrading a store of the previous layout in place), reads the server's persistence
    /// settings (warning when a restart could lose
    /// acknowledged changes) and, when enabled, subscribes for wakeups.
    pub async fn connect_with(url: &str, options: RedisOptions) -> Result<Self> {
        if options.prefix.is_empty() || options.prefix.contains(['{', '}']) {
            return Err(Error::InvalidInput(format!(
                "Redis key prefix '{}' must be non-empty and without braces",
                options.prefix
            )));
        }
        let secure = url.starts_with("rediss:") || url.starts_with("valkeys:");
        if secure {
            tls::prepare();
        }
        let client = Client::open(url).map_err(|e| match secure {
            true => tls::refused(e),
            false => Error::store("parsing the Redis connection URL", e),
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(options.connection_timeout))
            .set_response_timeout(Some(options.response_timeout))
            .set_max_delay(Duration::from_secs(5));
        let mut conn = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(|e| Error::store("connecting to Redis", e))?;
        let base = format!("{{{}}}", options.prefix);
        let stored = SCRIPTS
            .open
            .key(&base)
            .arg(LAYOUT_VERSION)
            .invoke_async::<Value>(&mut conn)
            .await
            .map_err(|e| Error::store("opening the Redis store", e))?;
        let mut stored = codec::text(stored, "opening the Redis store")?;
        if stored == LAYOUT_1 {
            upgrade_1(&mut conn, &base).await?;
            stored = LAYOUT_2.to_owned();
        }
        if stored == LAYOUT_2 {
            upgrade_in_one_call(&mut conn, &base, &SCRIPTS.upgrade_2, LAYOUT_2, LAYOUT_3).await?;
            stored = LAYOUT_3.to_owned();
        }
        if stored == LAYOUT_3 {
            upgrade_in_one_call(&mut conn, &base, &SCRIPTS.upgrade_3, LAYOUT_3, LAYOUT_4).await?;
            stored = LAYOUT_4.to_owned();
        }
        if stored == LAYOUT_4 {
            upgrade_in_one_call(
                &mut conn,
                &base,
                &SCRIPTS.upgrade_4,
                LAYOUT_4,
                LAYOUT_VERSION,
            )
            .await?;
        } else if stored != LAYOUT_VERSION {
            return Err(Error::store_msg(format!(
                "the keys under {base} have layout version {stored}; this build reads version \
                 {LAYOUT_VERSION} (and upgrades versions {LAYOUT_1} to {LAYOUT_4})"
            )));
        }
        let durability = durability::check(&mut conn, &base).await;
        let (notify, subscriber) = if options.wakeups {
            let notify = Arc::new(Notify::new());
            let subscriber = wakeups::start(client, format!("{base}:wake"), notify.clone()).await;
            (Some(notify), Some(subscriber))
        } else {
            (None, None)
        };
        Ok(Self {
            inner: Arc::new(Inner {
                conn,
                prefix: options.prefix,
                base,
                notify,
                durability,
                _subscriber: subscriber,
            }),
        })
    }

    /// The key prefix of this store.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// What a restart of the server can lose, as its settings said when the store was opened.
    pub fn durability(&self) -> Durability {
        self.inner.durability
    }

    /// The store's connection, for inspection and maintenance (it reconnects by itself).
    pub fn connection(&self) -> ConnectionManager {
        self.inner.conn.clone()
    }

    /// Deletes every key of this store — jobs, error records, scheduler items, indexes — found
    /// through the store's own indexes (no scan of the keyspace); keys of other prefixes are
    /// untouched. Returns the number of jobs deleted. Meant for tests and for retiring a
    /// queue: it is not atomic as a whole, so run it while nothing else uses the prefix.
    pub async fn clear(&self) -> Result<u64> {
        let mut deleted = 0;
        loop {
            let reply = self
                .eval(
                    &SCRIPTS.clear,
                    vec![DELETE_BATCH.to_string().into_bytes()],
                    "clearing the store",
                )
                .await?;
            let n = codec::int(&reply, "clearing the store")?;
            deleted += u64::try_from(n).unwrap_or(0);
            if usize::try_from(n).ok() != Some(DELETE_BATCH) {
                return Ok(deleted);
            }
        }
    }

    /// Runs `script` on the store's keys with `args`; a failure is a store error saying `what`
    /// the call was doing.
    pub(crate) async fn eval(&self, script: &Script, args: Args, what: &str) -> Result<Value> {
        let mut invocation = script.key(&self.inner.base);
        for arg in args {
            invocation.arg(arg);
        }
        let mut conn = self.inner.conn.clone();
        invocation
            .invoke_async(&mut conn)
            .await
            .map_err(|e| Error::store(what.to_owned(), e))
    }

    /// The hash-tagged base of every key, `{prefix}`.
    pub(crate) fn base(&self) -> &str {
        &self.inner.base
    }

    /// Every job name the store has seen (`{p}:names`), which names its per-name indexes.
    pub(crate) async fn job_names(&self, what: &str) -> Result<Vec<String>> {
        let mut conn = self.inner.conn.clone();
        redis::cmd("SMEMBERS")
            .arg(format!("{}:names", self.inner.base))
            .query_async(&mut conn)
            .await
            .map_err(|e| Error::store(what.to_owned(), e))
    }

    /// Wakes this process's idle workers at once, without waiting for the subscription.
    pub(crate) fn wake_local(&self) {
        if let Some(notify) = &self.inner.notify {
            wakeups::wake(notify);
        }
    }

    /// The notify the subscription signals, `None` when wakeups are off.
    pub(crate) fn notify(&self) -> Option<Arc<Notify>> {
        self.inner.notify.clone()
    }
}

/// Upgrades the keys under `base` from layout 1 to layout 2, a batch of jobs per script call
/// (see `lua/upgrade_1.lua`); the last call writes layout 2. Another process upgrading at the
/// same time only repeats work.
async fn upgrade_1(conn: &mut ConnectionManager, base: &str) -> Result<()> {
    let what = "upgrading the Redis store's layout";
    tracing::info!(
        store = base,
        "upgrading the store's keys from layout {LAYOUT_1} to {LAYOUT_2}"
    );
    let prefix = codec::priority_prefix(0);
    let mut after = String::new();
    loop {
        let reply = SCRIPTS
            .upgrade_1
            .key(base)
            .arg(LAYOUT_1)
            .arg(LAYOUT_2)
            .arg(&prefix)
            .arg(&after)
            .arg(UPGRADE_BATCH)
            .invoke_async::<Value>(conn)
            .await
            .map_err(|e| Error::store(what, e))?;
        let mut values = codec::array(reply, what)?.into_iter();
        let (Some(done), Some(at)) = (values.next(), values.next()) else {
            return Err(Error::store_msg(format!("{what}: a short reply")));
        };
        let at = codec::text(at, what)?;
        if codec::int(&done, what)? == 0 {
            after = at;
            continue;
        }
        if !reached(&at, LAYOUT_2) {
            return Err(Error::store_msg(format!(
                "{what}: the keys under {base} went to layout version '{at}' meanwhile"
            )));
        }
        return Ok(());
    }
}

/// True when `stored`, the layout an upgrade call found or left, is `from` or a later layout
/// this build knows: the upgrade went on as asked, or another process upgraded first.
fn reached(stored: &str, from: &str) -> bool {
    let number = |layout: &str| layout.parse::<u32>().ok();
    match (number(stored), number(from), number(LAYOUT_VERSION)) {
        (Some(stored), Some(from), Some(newest)) => (from..=newest).contains(&stored),
        _ => false,
    }
}

/// Upgrades the keys under `base` from layout `from` to layout `to` in one call of `script`
/// (`lua/upgrade_2.lua`: 2 to 3, dropping the indexes across names; `lua/upgrade_3.lua`: 3 to
/// 4, dropping the status index of processing jobs; `lua/upgrade_4.lua`: 4 to 5, where hashes
/// stay as they are). Another process may have upgraded first.
async fn upgrade_in_one_call(
    conn: &mut ConnectionManager,
    base: &str,
    script: &Script,
    from: &str,
    to: &str,
) -> Result<()> {
    let what = "upgrading the Redis store's layout";
    tracing::info!(
        store = base,
        "upgrading the store's keys from layout {from} to {to}"
    );
    let stored = script
        .key(base)
        .arg(from)
        .arg(to)
        .invoke_async::<Value>(conn)
        .await
        .map_err(|e| Error::store(what, e))?;
    let stored = codec::text(stored, what)?;
    if !reached(&stored, from) {
        return Err(Error::store_msg(format!(
            "{what}: the keys under {base} went to layout version '{stored}' meanwhile"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{reached, LAYOUT_2, LAYOUT_3};

    #[test]
    fn an_upgrade_reached_its_layout_or_a_later_one_this_build_knows() {
        assert!(reached("2", LAYOUT_2));
        assert!(reached("3", LAYOUT_2));
        assert!(reached(super::LAYOUT_VERSION, LAYOUT_3));
        assert!(!reached("2", LAYOUT_3), "an older layout is not reached");
        assert!(
            !reached("6", LAYOUT_3),
            "a newer build's layout is unknown here"
        );
        assert!(!reached("", LAYOUT_2));
    }
}
