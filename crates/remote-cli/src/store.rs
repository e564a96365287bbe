//! Store selection: a URL (`--store` / `REMOTE_STORE`) becomes a job store and a scheduler store.

use std::sync::Arc;

use remote_core::{JobStore, SchedulerStore};
use remote_memory::MemoryStore;

use crate::error::{CliError, CliResult};

/// The store used when neither `--store` nor `REMOTE_STORE` is given.
pub const DEFAULT_STORE: &str = "sqlite://remote.db";

/// Which backend a store URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    /// `memory:`: in this process only, gone when it exits.
    Memory,
    /// `sqlite://path` (file created if missing) or `sqlite::memory:`.
    Sqlite,
    /// `postgres://…` or `postgresql://…`.
    Postgres,
    /// `mongodb://…` or `mongodb+srv://…`; the database is the URL's path (default `remote`).
    Mongo,
}

impl StoreKind {
    /// The backend named by a URL's scheme, or a usage error listing the known ones.
    pub fn of(url: &str) -> CliResult<Self> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "memory" => Ok(StoreKind::Memory),
            "sqlite" => Ok(StoreKind::Sqlite),
            "postgres" | "postgresql" => Ok(StoreKind::Postgres),
            "mongodb" | "mongodb+srv" => Ok(StoreKind::Mongo),
            _ => Err(CliError::usage(format!(
                "unsupported store URL '{}': use sqlite://FILE, postgres://…, mongodb://… or memory:",
                redact(url)
            ))),
        }
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

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
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
    let kind = StoreKind::of(url)?;
    let display = redact(url);
    match kind {
        StoreKind::Memory => Ok(Stores::memory()),
        StoreKind::Sqlite | StoreKind::Postgres => open_sql(url, kind, &display).await,
        StoreKind::Mongo => open_mongo(url, &display).await,
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

/// Creates or updates the store's schema; returns what was done, for the operator.
pub async fn migrate(url: &str) -> CliResult<String> {
    let kind = StoreKind::of(url)?;
    let display = redact(url);
    match kind {
        StoreKind::Memory => Ok("memory: store needs no migration".into()),
        StoreKind::Sqlite | StoreKind::Postgres => migrate_sql(url, &display).await,
        StoreKind::Mongo => {
            open_mongo(url, &display).await?;
            Ok(format!("{display}: indexes are in place"))
        }
    }
}

/// The URL sqlx should open: a SQLite file is created when missing unless a mode is given.
pub fn sql_url(url: &str, kind: StoreKind) -> String {
    if kind != StoreKind::Sqlite || url.contains("mode=") || url.contains(":memory:") {
        return url.to_string();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}mode=rwc")
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

fn unreachable(display: &str, error: remote_core::Error) -> CliError {
    let mut e = CliError::from(error);
    e.message = format!("{display}: {}", e.message);
    e
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
async fn connect_sql(url: &str, kind: StoreKind, display: &str) -> CliResult<remote_sql::SqlStore> {
    remote_sql::SqlStore::connect(&sql_url(url, kind))
        .await
        .map_err(|e| unreachable(display, e))
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
async fn open_sql(url: &str, kind: StoreKind, display: &str) -> CliResult<Stores> {
    let store = connect_sql(url, kind, display).await?;
    Ok(Stores::from_store(store, kind, display))
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
async fn migrate_sql(url: &str, display: &str) -> CliResult<String> {
    let kind = StoreKind::of(url)?;
    let store = connect_sql(url, kind, display).await?;
    store.migrate().await.map_err(|e| unreachable(display, e))?;
    Ok(format!("{display}: schema is up to date"))
}

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
async fn open_sql(_url: &str, _kind: StoreKind, display: &str) -> CliResult<Stores> {
    Err(CliError::usage(format!(
        "{display}: this build of remote has no SQL store (features sqlite, postgres)"
    )))
}

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
async fn migrate_sql(_url: &str, display: &str) -> CliResult<String> {
    Err(CliError::usage(format!(
        "{display}: this build of remote has no SQL store (features sqlite, postgres)"
    )))
}

#[cfg(feature = "mongodb")]
async fn open_mongo(url: &str, display: &str) -> CliResult<Stores> {
    let store = remote_mongo::MongoStore::connect(url, &mongo_database(url))
        .await
        .map_err(|e| unreachable(display, e))?;
    Ok(Stores::from_store(store, StoreKind::Mongo, display))
}

#[cfg(not(feature = "mongodb"))]
async fn open_mongo(_url: &str, display: &str) -> CliResult<Stores> {
    Err(CliError::usage(format!(
        "{display}: this build of remote has no MongoDB store (feature mongodb)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_redaction() {
        assert_eq!(StoreKind::of("memory:"), Ok(StoreKind::Memory));
        assert_eq!(StoreKind::of("sqlite://x.db"), Ok(StoreKind::Sqlite));
        assert_eq!(StoreKind::of("postgresql://h/db"), Ok(StoreKind::Postgres));
        assert_eq!(StoreKind::of("mongodb+srv://h"), Ok(StoreKind::Mongo));
        assert_eq!(StoreKind::of("redis://h").map_err(|e| e.code), Err(2));
        assert_eq!(
            redact("postgres://u:secret@h:5432/db?x=1"),
            "postgres://u:***@h:5432/db?x=1"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("memory:"), "memory:");
        assert_eq!(
            sql_url("sqlite://a.db", StoreKind::Sqlite),
            "sqlite://a.db?mode=rwc"
        );
        assert_eq!(
            sql_url("sqlite://a.db?x=1", StoreKind::Sqlite),
            "sqlite://a.db?x=1&mode=rwc"
        );
        assert_eq!(
            sql_url("sqlite::memory:", StoreKind::Sqlite),
            "sqlite::memory:"
        );
        assert_eq!(mongo_database("mongodb://h:27017/jobs?rs=x"), "jobs");
        assert_eq!(mongo_database("mongodb://h:27017"), "remote");
        assert_eq!(mongo_database("mongodb://h/?rs=x"), "remote");
    }
}
