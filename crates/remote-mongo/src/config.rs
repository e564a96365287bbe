//! Options, connecting, and what opening a store checks and prepares.

use std::sync::Arc;

use mongodb::bson::{doc, Bson, Document};
use mongodb::{Client, Collection, Database};
use remote_core::{Error, Result};
use tokio::sync::Notify;

use crate::indexes::create_indexes;
use crate::migrations::migrate;
use crate::wakeups::{open_wakeups, Watcher};

/// Collection names and switches of a [`MongoStore`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct MongoConfig {
    /// Collection of jobs (with their error records); default `rjobs`.
    pub jobs_collection: String,
    /// Collection of scheduler items; default `rscheduler`.
    pub scheduler_collection: String,
    /// Collection recording the layout version of each collection; default `rmigrations`.
    pub migrations_collection: String,
    /// Collection of paused job names (R31); default `rpaused`.
    pub paused_collection: String,
    /// Collection of named maintenance leases (R33); default `rleaders`.
    pub leaders_collection: String,
    /// Collection of the lock documents that serialize adding jobs with the same unique key
    /// (R27); default `rlocks`.
    pub locks_collection: String,
    /// Watch the jobs collection so idle workers wake when another process adds a job;
    /// default `true`. Deployments without change streams fall back to polling either way.
    pub change_streams: bool,
}

impl Default for MongoConfig {
    fn default() -> Self {
        Self::with_prefix("r")
    }
}

impl MongoConfig {
    /// Collections `<prefix>jobs`, `<prefix>scheduler`, `<prefix>migrations`,
    /// `<prefix>paused`, `<prefix>leaders` and `<prefix>locks` (the default prefix is `r`).
    pub fn with_prefix(prefix: &str) -> Self {
        Self {
            jobs_collection: format!("{prefix}jobs"),
            scheduler_collection: format!("{prefix}scheduler"),
            migrations_collection: format!("{prefix}migrations"),
            paused_collection: format!("{prefix}paused"),
            leaders_collection: format!("{prefix}leaders"),
            locks_collection: format!("{prefix}locks"),
            change_streams: true,
        }
    }

    /// Sets the name of the jobs collection.
    pub fn jobs_collection(mut self, name: impl Into<String>) -> Self {
        self.jobs_collection = name.into();
        self
    }

    /// Sets the name of the scheduler items collection.
    pub fn scheduler_collection(mut self, name: impl Into<String>) -> Self {
        self.scheduler_collection = name.into();
        self
    }

    /// Sets the name of the collection recording layout versions.
    pub fn migrations_collection(mut self, name: impl Into<String>) -> Self {
        self.migrations_collection = name.into();
        self
    }

    /// Sets the name of the collection of paused job names.
    pub fn paused_collection(mut self, name: impl Into<String>) -> Self {
        self.paused_collection = name.into();
        self
    }

    /// Sets the name of the collection of maintenance leases.
    pub fn leaders_collection(mut self, name: impl Into<String>) -> Self {
        self.leaders_collection = name.into();
        self
    }

    /// Sets the name of the collection of unique-key locks.
    pub fn locks_collection(mut self, name: impl Into<String>) -> Self {
        self.locks_collection = name.into();
        self
    }

    /// Turns the change-stream wakeups on or off (off: workers poll only).
    pub fn change_streams(mut self, on: bool) -> Self {
        self.change_streams = on;
        self
    }
}

/// A job and scheduler store in one MongoDB database (8.0 or later).
///
/// Cloning is cheap and shares the connection pool and the change-stream watcher.
#[derive(Clone)]
pub struct MongoStore {
    pub(crate) database: Database,
    pub(crate) jobs: Collection<Document>,
    pub(crate) items: Collection<Document>,
    pub(crate) paused: Collection<Document>,
    pub(crate) leaders: Collection<Document>,
    pub(crate) locks: Collection<Document>,
    /// The deployment has transactions (a replica set or a sharded cluster).
    pub(crate) transactions: bool,
    pub(crate) wakeups: Option<Arc<Notify>>,
    pub(crate) _watcher: Option<Arc<Watcher>>,
}

impl std::fmt::Debug for MongoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MongoStore")
            .field("database", &self.database.name())
            .field("jobs", &self.jobs.name())
            .field("items", &self.items.name())
            .field("change_streams", &self.wakeups.is_some())
            .finish()
    }
}

impl MongoStore {
    /// Connects to `uri` (e.g. `mongodb://host:27017/?replicaSet=rs0`) and opens the store in
    /// `database` with the default collection names.
    pub async fn connect(uri: &str, database: &str) -> Result<Self> {
        Self::connect_with(uri, database, MongoConfig::default()).await
    }

    /// Connects to `uri` and opens the store in `database` with `config`.
    pub async fn connect_with(uri: &str, database: &str, config: MongoConfig) -> Result<Self> {
        let client = Client::with_uri_str(uri)
            .await
            .map_err(|e| Error::store("parsing the MongoDB connection string", e))?;
        Self::open(client.database(database), config).await
    }

    /// Opens the store in a database of an existing client (`client.database("name")`) with
    /// the default collection names.
    pub async fn from_database(database: Database) -> Result<Self> {
        Self::open(database, MongoConfig::default()).await
    }

    /// Opens the store in `database` with `config`: checks the server is MongoDB 8.0 or later,
    /// brings documents written by an earlier version to the current layout and creates the
    /// indexes (both idempotent), and, when enabled and supported, starts watching for jobs
    /// added by other processes.
    pub async fn open(database: Database, config: MongoConfig) -> Result<Self> {
        let transactions = check_server(&database).await?;
        let jobs = database.collection::<Document>(&config.jobs_collection);
        let items = database.collection::<Document>(&config.scheduler_collection);
        let migrations = database.collection::<Document>(&config.migrations_collection);
        let paused = database.collection::<Document>(&config.paused_collection);
        let leaders = database.collection::<Document>(&config.leaders_collection);
        let locks = database.collection::<Document>(&config.locks_collection);
        migrate(&migrations, &jobs, &items).await?;
        create_indexes(&jobs, &items, &locks).await?;
        let (wakeups, watcher) = if config.change_streams {
            match open_wakeups(&jobs).await {
                Some((notify, watcher)) => (Some(notify), Some(Arc::new(watcher))),
                None => (None, None),
            }
        } else {
            (None, None)
        };
        Ok(Self {
            database,
            jobs,
            items,
            paused,
            leaders,
            locks,
            transactions,
            wakeups,
            _watcher: watcher,
        })
    }

    /// The database holding the store.
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// The jobs collection, for inspection and maintenance.
    pub fn jobs_collection(&self) -> &Collection<Document> {
        &self.jobs
    }

    /// The scheduler items collection, for inspection and maintenance.
    pub fn scheduler_collection(&self) -> &Collection<Document> {
        &self.items
    }

    /// True when the deployment has transactions (a replica set or a sharded cluster): needed
    /// to add jobs with unique keys (R27) and for [`insert_jobs_in`](Self::insert_jobs_in).
    pub fn has_transactions(&self) -> bool {
        self.transactions
    }

    /// True when idle workers are woken through a change stream (false: polling only).
    pub fn has_change_streams(&self) -> bool {
        self.wakeups.is_some()
    }
}

/// The first wire version of MongoDB 8.0, which has the `bulkWrite` command.
const BULK_WRITE_WIRE_VERSION: i64 = 25;

/// Refuses a server older than MongoDB 8.0 (batched outcomes are one `bulkWrite` command);
/// answers whether the deployment has transactions.
async fn check_server(database: &Database) -> Result<bool> {
    let hello = database
        .run_command(doc! { "hello": 1 })
        .await
        .map_err(|e| Error::store("asking the MongoDB server for its version", e))?;
    let wire = match hello.get("maxWireVersion") {
        Some(Bson::Int32(v)) => i64::from(*v),
        Some(Bson::Int64(v)) => *v,
        _ => 0,
    };
    if wire < BULK_WRITE_WIRE_VERSION {
        return Err(Error::store_msg(format!(
            "remote-mongo needs MongoDB 8.0 or later (the bulkWrite command); the server \
             reports wire version {wire}, 8.0 is {BULK_WRITE_WIRE_VERSION}"
        )));
    }
    let replica_set = hello.get_str("setName").is_ok();
    let router = hello.get_str("msg") == Ok("isdbgrid");
    Ok(replica_set || router)
}
