//! Store selection: a URL (`--store` / `REMOTE_STORE`) becomes a job store and a scheduler store.
//!
//! The URL is the driver's own, plus two query parameters read here and removed before the
//! driver sees the URL: `prefix=` (the namespace of the store's tables, keys or collections,
//! so that several queues share one database) and, for PostgreSQL, `schema=`.

use std::fmt;
use std::sync::Arc;

use remote_core::{JobStore, SchedulerStore};
use remote_memory::MemoryStore;
use serde_json::{json, Value};

use crate::error::{CliError, CliResult};

/// The store used when neither `--store` nor `REMOTE_STORE` is given.
pub const DEFAULT_STORE: &str = "sqlite://remote.db";

/// The store URLs every message about an unknown scheme lists.
const KNOWN_URLS: &str = "sqlite://FILE, postgres://…, mysql://… (or mariadb://…), mongodb://…, \
                          redis://… (or rediss://…) or memory:";

/// Which backend a store URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    /// `memory:`: in this process only, gone when it exits.
    Memory,
    /// `sqlite://path` (file created if missing) or `sqlite::memory:`.
    Sqlite,
    /// `postgres://…` or `postgresql://…`.
    Postgres,
    /// `mysql://…` or `mariadb://…`: MariaDB 10.6 or later, MySQL 8.0 or later.
    MySql,
    /// `mongodb://…` or `mongodb+srv://…`; the database is the URL's path (default `remote`).
    Mongo,
    /// `redis://…`, or `rediss://…` over TLS.
    Redis,
}

impl StoreKind {
    /// Every kind, in the order the documentation lists them.
    pub const ALL: [StoreKind; 6] = [
        StoreKind::Sqlite,
        StoreKind::Postgres,
        StoreKind::MySql,
        StoreKind::Mongo,
        StoreKind::Redis,
        StoreKind::Memory,
    ];

    /// The backend named by a URL's scheme, or a usage error listing the known ones.
    pub fn of(url: &str) -> CliResult<Self> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "memory" => Ok(StoreKind::Memory),
            "sqlite" => Ok(StoreKind::Sqlite),
            "postgres" | "postgresql" => Ok(StoreKind::Postgres),
            "mysql" | "mariadb" => Ok(StoreKind::MySql),
            "mongodb" | "mongodb+srv" => Ok(StoreKind::Mongo),
            "redis" | "rediss" => Ok(StoreKind::Redis),
            _ => Err(CliError::usage(format!(
                "unsupported store URL '{}': use {KNOWN_URLS}",
                redact(url)
            ))),
        }
    }

    /// The kind's name in output: `memory`, `sqlite`, `postgres`, `mysql`, `mongodb`, `redis`.
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Memory => "memory",
            StoreKind::Sqlite => "sqlite",
            StoreKind::Postgres => "postgres",
            StoreKind::MySql => "mysql",
            StoreKind::Mongo => "mongodb",
            StoreKind::Redis => "redis",
        }
    }

    /// The cargo feature that builds this kind in, `None` for `memory:`.
    pub fn feature(self) -> Option<&'static str> {
        match self {
            StoreKind::Memory => None,
            StoreKind::Sqlite => Some("sqlite"),
            StoreKind::Postgres => Some("postgres"),
            StoreKind::MySql => Some("mysql"),
            StoreKind::Mongo => Some("mongodb"),
            StoreKind::Redis => Some("redis"),
        }
    }

    /// Whether this build of the command can open this kind.
    pub fn is_built_in(self) -> bool {
        match self {
            StoreKind::Memory => true,
            StoreKind::Sqlite => cfg!(feature = "sqlite"),
            StoreKind::Postgres => cfg!(feature = "postgres"),
            StoreKind::MySql => cfg!(feature = "mysql"),
            StoreKind::Mongo => cfg!(feature = "mongodb"),
            StoreKind::Redis => cfg!(feature = "redis"),
        }
    }
}

impl fmt::Display for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A store URL taken apart: the backend, the URL its driver gets, and the parameters read here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreUrl {
    /// The backend.
    pub kind: StoreKind,
    /// The URL handed to the driver: the given one without `prefix=` and `schema=`, a
    /// `mariadb://` scheme written `mysql://`, an SQLite file opened with `mode=rwc` unless
    /// the URL names a mode.
    pub driver_url: String,
    /// `prefix=`: of the tables (SQL, default `remote_`), of the keys (Redis, default `remote`)
    /// or of the collections (MongoDB, default `r`).
    pub prefix: Option<String>,
    /// `schema=`: the PostgreSQL schema of the tables (default `public`).
    pub schema: Option<String>,
    /// The given URL with any password replaced by `***`, for logs and pages.
    pub display: String,
}

impl StoreUrl {
    /// Reads a store URL; an unknown scheme, a parameter the backend does not take, or one
    /// given twice or empty is a usage error.
    pub fn parse(url: &str) -> CliResult<Self> {
        let kind = StoreKind::of(url)?;
        let display = redact(url);
        let (base, query) = match url.split_once('?') {
            Some((base, query)) => (base, Some(query)),
            None => (url, None),
        };
        let mut prefix = None;
        let mut schema = None;
        let mut kept = Vec::new();
        for pair in query.unwrap_or_default().split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match key {
                "prefix" => &mut prefix,
                "schema" => &mut schema,
                _ => {
                    if !pair.is_empty() {
                        kept.push(pair);
                    }
                    continue;
                }
            };
            if value.is_empty() {
                return Err(CliError::usage(format!(
                    "{display}: the store URL's {key}= is empty"
                )));
            }
            if slot.replace(value.to_string()).is_some() {
                return Err(CliError::usage(format!(
                    "{display}: the store URL gives {key}= twice"
                )));
            }
        }
        if kind == StoreKind::Memory && (prefix.is_some() || !kept.is_empty() || query.is_some()) {
            return Err(CliError::usage(format!(
                "{display}: the memory: store takes no parameters"
            )));
        }
        if schema.is_some() && kind != StoreKind::Postgres {
            return Err(CliError::usage(format!(
                "{display}: schema= applies to postgres:// URLs only"
            )));
        }
        let base = match base.strip_prefix("mariadb:") {
            Some(rest) => format!("mysql:{rest}"),
            None => base.to_string(),
        };
        let mut driver_url = if kept.is_empty() {
            base
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        if kind == StoreKind::Sqlite
            && !driver_url.contains("mode=")
            && !driver_url.contains(":memory:")
        {
            let separator = if kept.is_empty() { '?' } else { '&' };
            driver_url = format!("{driver_url}{separator}mode=rwc");
        }
        Ok(Self {
            kind,
            driver_url,
            prefix,
            schema,
            display,
        })
    }

    /// A usage error when this build leaves the URL's backend out.
    fn check_built_in(&self) -> CliResult {
        if self.kind.is_built_in() {
            return Ok(());
        }
        Err(CliError::usage(format!(
            "{}: this build of remote has no {} store (cargo feature {})",
            self.display,
            self.kind,
            self.kind.feature().unwrap_or_default()
        )))
    }
}

/// An opened store: the pair of trait objects a processor is built over.
#[derive(Clone)]
pub struct Stores {
    /// Jobs.
    pub jobs: Arc<dyn JobStore>,
    /// Scheduler items.
    pub items: Arc<dyn SchedulerStore>,
    /// The backend.
    pub kind: StoreKind,
    /// The URL with any password replaced by `***`, for logs and pages.
    pub display: String,
}

impl fmt::Debug for Stores {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stores")
            .field("kind", &self.kind)
            .field("url", &self.display)
            .finish_non_exhaustive()
    }
}

impl Stores {
    /// Wraps a store the caller built (e.g. with options the URL cannot express).
    pub fn from_store<S: remote_core::Store>(store: S, kind: StoreKind, display: &str) -> Self {
        let store = Arc::new(store);
        Self {
            jobs: store.clone(),
            items: store,
            kind,
            display: display.to_string(),
        }
    }

    /// A fresh in-memory store.
    pub fn memory() -> Self {
        Self::from_store(MemoryStore::new(), StoreKind::Memory, "memory:")
    }

    /// `{"kind": …, "url": …}`, as `stats --json` and the dashboard's API show the store.
    pub fn describe(&self) -> Value {
        json!({"kind": self.kind.name(), "url": self.display})
    }
}

/// The URL with the password of its user-info part replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// Opens the store a URL names; SQL schemas are migrated on open.
pub async fn open(url: &str) -> CliResult<Stores> {
    let url = StoreUrl::parse(url)?;
    url.check_built_in()?;
    match url.kind {
        StoreKind::Memory => Ok(Stores::memory()),
        StoreKind::Sqlite | StoreKind::Postgres | StoreKind::MySql => open_sql(&url).await,
        StoreKind::Mongo => open_mongo(&url).await,
        StoreKind::Redis => open_redis(&url).await,
    }
}

/// Opens the store a URL names, giving up after `timeout` (exit 4).
pub async fn open_within(url: &str, timeout: std::time::Duration) -> CliResult<Stores> {
    match tokio::time::timeout(timeout, open(url)).await {
        Ok(opened) => opened,
        Err(_) => Err(CliError::store(format!(
            "{}: no answer within {} (see --connect-timeout)",
            redact(url),
            humantime::format_duration(timeout)
        ))),
    }
}

/// Creates or updates the store's schema, indexes or key layout (what opening a store does);
/// returns the store and what was done, for the operator.
pub async fn migrate(url: &str) -> CliResult<(Stores, String)> {
    let stores = open(url).await?;
    let done = match stores.kind {
        StoreKind::Memory => "memory: store needs no migration".to_string(),
        StoreKind::Sqlite | StoreKind::Postgres | StoreKind::MySql => {
            format!("{}: schema is up to date", stores.display)
        }
        StoreKind::Mongo => format!("{}: indexes are in place", stores.display),
        StoreKind::Redis => format!("{}: key layout is in place", stores.display),
    };
    Ok((stores, done))
}

/// The database a MongoDB URL names in its path, `remote` when it names none.
pub fn mongo_database(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = rest.split_once('/').map_or("", |(_, path)| path);
    let name = path.split('?').next().unwrap_or_default();
    if name.is_empty() {
        "remote".to_string()
    } else {
        name.to_string()
    }
}

/// A store error prefixed with the (redacted) URL; its exit code stays the error's.
#[cfg(any(
    feature = "sqlite",
    feature = "postgres",
    feature = "mysql",
    feature = "mongodb",
    feature = "redis"
))]
fn failed(display: &str, error: remote_core::Error) -> CliError {
    let mut e = CliError::from(error);
    e.message = format!("{display}: {}", e.message);
    e
}

/// The error of a URL whose backend this build leaves out (`open` checks before it gets here).
#[cfg(not(all(
    any(feature = "sqlite", feature = "postgres", feature = "mysql"),
    feature = "mongodb",
    feature = "redis"
)))]
fn left_out(url: &StoreUrl) -> CliError {
    url.check_built_in().err().unwrap_or_else(|| {
        CliError::usage(format!(
            "{}: this build of remote has no {} store",
            url.display, url.kind
        ))
    })
}

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
async fn open_sql(url: &StoreUrl) -> CliResult<Stores> {
    let mut options = remote_sql::SqlOptions::new();
    if let Some(prefix) = &url.prefix {
        options = options.table_prefix(prefix.as_str());
    }
    if let Some(schema) = &url.schema {
        options = options.schema(schema.as_str());
    }
    let store = options
        .connect(&url.driver_url)
        .await
        .map_err(|e| failed(&url.display, e))?;
    Ok(Stores::from_store(store, url.kind, &url.display))
}

#[cfg(not(any(feature = "sqlite", feature = "postgres", feature = "mysql")))]
async fn open_sql(url: &StoreUrl) -> CliResult<Stores> {
    Err(left_out(url))
}

#[cfg(feature = "mongodb")]
async fn open_mongo(url: &StoreUrl) -> CliResult<Stores> {
    let config = match &url.prefix {
        Some(prefix) => remote_mongo::MongoConfig::with_prefix(prefix),
        None => remote_mongo::MongoConfig::default(),
    };
    let database = mongo_database(&url.driver_url);
    let store = remote_mongo::MongoStore::connect_with(&url.driver_url, &database, config)
        .await
        .map_err(|e| failed(&url.display, e))?;
    Ok(Stores::from_store(store, url.kind, &url.display))
}

#[cfg(not(feature = "mongodb"))]
async fn open_mongo(url: &StoreUrl) -> CliResult<Stores> {
    Err(left_out(url))
}

#[cfg(feature = "redis")]
async fn open_redis(url: &StoreUrl) -> CliResult<Stores> {
    let mut options = remote_redis::RedisOptions::default();
    if let Some(prefix) = &url.prefix {
        options.prefix = prefix.clone();
    }
    let store = remote_redis::RedisStore::connect_with(&url.driver_url, options)
        .await
        .map_err(|e| failed(&url.display, e))?;
    Ok(Stores::from_store(store, url.kind, &url.display))
}

#[cfg(not(feature = "redis"))]
async fn open_redis(url: &StoreUrl) -> CliResult<Stores> {
    Err(left_out(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_redaction() {
        assert_eq!(StoreKind::of("memory:"), Ok(StoreKind::Memory));
        assert_eq!(StoreKind::of("sqlite://x.db"), Ok(StoreKind::Sqlite));
        assert_eq!(StoreKind::of("postgresql://h/db"), Ok(StoreKind::Postgres));
        assert_eq!(StoreKind::of("mysql://h/db"), Ok(StoreKind::MySql));
        assert_eq!(StoreKind::of("mariadb://h/db"), Ok(StoreKind::MySql));
        assert_eq!(StoreKind::of("mongodb+srv://h"), Ok(StoreKind::Mongo));
        assert_eq!(StoreKind::of("redis://h"), Ok(StoreKind::Redis));
        assert_eq!(StoreKind::of("rediss://h"), Ok(StoreKind::Redis));
        assert_eq!(StoreKind::of("cassandra://h").map_err(|e| e.code), Err(2));
        let names: Vec<&str> = StoreKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(
            names,
            ["sqlite", "postgres", "mysql", "mongodb", "redis", "memory"]
        );
        assert_eq!(
            redact("postgres://u:secret@h:5432/db?x=1"),
            "postgres://u:***@h:5432/db?x=1"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("rediss://:pw@h:6380/0"), "rediss://:***@h:6380/0");
        assert_eq!(redact("memory:"), "memory:");
        assert_eq!(mongo_database("mongodb://h:27017/jobs?rs=x"), "jobs");
        assert_eq!(mongo_database("mongodb://h:27017"), "remote");
        assert_eq!(mongo_database("mongodb://h/?rs=x"), "remote");
    }

    fn parsed(url: &str) -> (String, Option<String>, Option<String>) {
        let url = StoreUrl::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        (url.driver_url, url.prefix, url.schema)
    }

    fn usage_error(url: &str) -> String {
        match StoreUrl::parse(url) {
            Ok(parsed) => panic!("{url} was accepted: {parsed:?}"),
            Err(e) => {
                assert_eq!(e.code, 2, "{url}: {e}");
                e.message
            }
        }
    }

    #[test]
    fn url_parameters_are_read_and_removed() {
        let some = |s: &str| Some(s.to_string());
        assert_eq!(
            parsed("sqlite://a.db"),
            ("sqlite://a.db?mode=rwc".into(), None, None)
        );
        assert_eq!(
            parsed("sqlite://a.db?x=1&prefix=q_"),
            ("sqlite://a.db?x=1&mode=rwc".into(), some("q_"), None)
        );
        assert_eq!(
            parsed("sqlite::memory:"),
            ("sqlite::memory:".into(), None, None)
        );
        assert_eq!(
            parsed("postgres://u:pw@h/db?schema=billing&sslmode=require&prefix=b_"),
            (
                "postgres://u:pw@h/db?sslmode=require".into(),
                some("b_"),
                some("billing")
            )
        );
        assert_eq!(
            parsed("mariadb://root@h:3306/test?prefix=t_"),
            ("mysql://root@h:3306/test".into(), some("t_"), None)
        );
        assert_eq!(
            parsed("redis://h:6379/2?prefix=billing"),
            ("redis://h:6379/2".into(), some("billing"), None)
        );
        assert_eq!(
            parsed("mongodb://h1:1,h2:2/jobs?replicaSet=rs&prefix=x_"),
            (
                "mongodb://h1:1,h2:2/jobs?replicaSet=rs".into(),
                some("x_"),
                None
            )
        );
        assert_eq!(parsed("memory:"), ("memory:".into(), None, None));

        assert!(usage_error("redis://h/?prefix=a&prefix=b").contains("twice"));
        assert!(usage_error("redis://h/?prefix=").contains("empty"));
        assert!(usage_error("mysql://h/db?schema=s").contains("postgres:// URLs only"));
        assert!(usage_error("memory:?prefix=a").contains("no parameters"));
        let secret = usage_error("mysql://u:secret@h/db?schema=s");
        assert!(!secret.contains("secret"), "{secret}");
    }
}
