//! Options, connecting, and the indexes every store creates at startup.

use std::sync::Arc;

use mongodb::bson::{doc, Document};
use mongodb::options::IndexOptions;
use mongodb::{Client, Collection, Database, IndexModel};
use remote_core::{Error, Result};
use tokio::sync::Notify;

use crate::jobs::{open_wakeups, Watcher};

/// Collection names and switches of a [`MongoStore`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct MongoConfig {
    /// Collection of jobs (with their error records); default `rjobs`.
    pub jobs_collection: String,
    /// Collection of scheduler items; default `rscheduler`.
    pub scheduler_collection: String,
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
    /// Collections `<prefix>jobs` and `<prefix>scheduler` (the default prefix is `r`).
    pub fn with_prefix(prefix: &str) -> Self {
        Self {
            jobs_collection: format!("{prefix}jobs"),
            scheduler_collection: format!("{prefix}scheduler"),
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

    /// Turns the change-stream wakeups on or off (off: workers poll only).
    pub fn change_streams(mut self, on: bool) -> Self {
        self.change_streams = on;
        self
    }
}

/// Index serving claims (R2) and listings by status: pull order within a status.
pub const CLAIM_INDEX: &str = "status_queued_at_id";
/// Index serving lease recovery (R8): processing jobs by lease end.
pub const LEASE_INDEX: &str = "status_lease_until_id";
/// Index serving listings of all jobs by creation.
pub const CREATED_INDEX: &str = "queued_at_id";
/// Index serving the scheduler's due items (R15).
pub const DUE_INDEX: &str = "active_next_call_time_id";

/// A job and scheduler store in one MongoDB database (4.4 or later).
///
/// Cloning is cheap and shares the connection pool and the change-stream watcher.
#[derive(Clone)]
pub struct MongoStore {
    pub(crate) database: Database,
    pub(crate) jobs: Collection<Document>,
    pub(crate) items: Collection<Document>,
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

    /// Opens the store in `database` with `config`: creates the indexes (idempotent) and, when
    /// enabled and supported, starts watching for jobs added by other processes.
    pub async fn open(database: Database, config: MongoConfig) -> Result<Self> {
        let jobs = database.collection::<Document>(&config.jobs_collection);
        let items = database.collection::<Document>(&config.scheduler_collection);
        create_indexes(&jobs, &items).await?;
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

    /// True when idle workers are woken through a change stream (false: polling only).
    pub fn has_change_streams(&self) -> bool {
        self.wakeups.is_some()
    }
}

fn index(name: &str, keys: Document) -> IndexModel {
    IndexModel::builder()
        .keys(keys)
        .options(IndexOptions::builder().name(name.to_owned()).build())
        .build()
}

async fn create_indexes(jobs: &Collection<Document>, items: &Collection<Document>) -> Result<()> {
    jobs.create_indexes([
        index(CLAIM_INDEX, doc! { "status": 1, "queued_at": 1, "_id": 1 }),
        index(
            LEASE_INDEX,
            doc! { "status": 1, "lease_until": 1, "_id": 1 },
        ),
        index(CREATED_INDEX, doc! { "queued_at": 1, "_id": 1 }),
    ])
    .await
    .map_err(|e| Error::store(format!("creating the indexes of '{}'", jobs.name()), e))?;
    items
        .create_indexes([index(
            DUE_INDEX,
            doc! { "active": 1, "next_call_time": 1, "_id": 1 },
        )])
        .await
        .map_err(|e| Error::store(format!("creating the indexes of '{}'", items.name()), e))?;
    Ok(())
}
