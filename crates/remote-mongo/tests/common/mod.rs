//! Where the tests find MongoDB, and isolated stores on it.
//!
//! `REMOTE_TEST_MONGODB_URL` names a server (`scripts/mongo-test-server.sh start` prints one).
//! Without it, the `testcontainers` feature starts the official `mongo` image as a one-node
//! replica set through a Docker engine. Otherwise the tests fail with instructions.

#![allow(dead_code)]

use std::sync::Arc;

use async_trait::async_trait;
use conformance_tests::{StoreFactory, TestStore};
use remote_core::{
    AcquireLeader, CancelJob, ClaimItems, ClaimJobs, ErrorRecord, ExpiredLeases, InsertJobs,
    Inserted, ItemId, Job, JobId, JobQuery, JobStatus, JobStore, Leader, Lease, Outcome,
    PauseNames, PausedName, RemoveJobs, RenewLeases, Result, RetryJobs, SchedulerItem,
    SchedulerStore, StatusCounts, Take,
};
use remote_mongo::mongodb::bson::doc;
use remote_mongo::mongodb::{Client, Database};
use remote_mongo::{MongoConfig, MongoStore};
use tokio::sync::{Notify, RwLock};

/// The variable naming the test server.
pub(crate) const URL_VARIABLE: &str = "REMOTE_TEST_MONGODB_URL";

/// The URL of the MongoDB server the tests use.
pub(crate) fn server_url() -> String {
    if let Ok(url) = std::env::var(URL_VARIABLE) {
        if !url.trim().is_empty() {
            return url;
        }
    }
    #[cfg(feature = "testcontainers")]
    {
        container::url()
    }
    #[cfg(not(feature = "testcontainers"))]
    {
        panic!(
            "no MongoDB for the remote-mongo tests: set {URL_VARIABLE} \
             (e.g. `export {URL_VARIABLE}=$(scripts/mongo-test-server.sh start)`, which gives \
             mongodb://127.0.0.1:27018/?directConnection=true), or build the tests with \
             `--features testcontainers` on a machine with a Docker engine"
        )
    }
}

/// A new client of the test server (one per test: clients belong to the test's runtime).
pub(crate) async fn client() -> Client {
    let url = server_url();
    Client::with_uri_str(&url)
        .await
        .unwrap_or_else(|e| panic!("cannot use {URL_VARIABLE}={url}: {e}"))
}

/// A database with a random name, empty.
pub(crate) fn fresh_database(client: &Client) -> Database {
    client.database(&format!("remote_test_{:016x}", rand::random::<u64>()))
}

/// Drops the database when the test ends, passed or failed.
pub(crate) struct DropOnExit(pub Database);

impl Drop for DropOnExit {
    fn drop(&mut self) {
        let name = self.0.name().to_owned();
        let url = server_url();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                if let Ok(client) = Client::with_uri_str(&url).await {
                    let _ = client.database(&name).drop().await;
                }
            });
        })
        .join()
        .ok();
    }
}

/// True when the server is SecantusDB (its `buildInfo` carries `secantusVersion`).
pub(crate) async fn is_secantus(client: &Client) -> bool {
    client
        .database("admin")
        .run_command(doc! { "buildInfo": 1 })
        .await
        .map(|info| info.contains_key("secantusVersion"))
        .unwrap_or(false)
}

/// The data of one conformance case: a database of its own on the test server, and the gate
/// its handles share on SecantusDB.
pub(crate) struct MongoCase {
    database: String,
    gate: Arc<RwLock<()>>,
}

impl MongoCase {
    /// Names a fresh database; nothing is opened yet.
    pub(crate) fn new() -> Self {
        Self {
            database: format!("remote_test_{:016x}", rand::random::<u64>()),
            gate: Arc::default(),
        }
    }
}

impl Default for MongoCase {
    fn default() -> Self {
        Self::new()
    }
}

impl StoreFactory for MongoCase {
    /// A store on a client of its own, as another process would open it.
    async fn open(&self) -> TestStore {
        let client = client().await;
        let store = MongoStore::open(client.database(&self.database), MongoConfig::default())
            .await
            .unwrap_or_else(|e| panic!("opening a MongoStore on the test server: {e}"));
        if is_secantus(&client).await {
            TestStore::new(CancelGate::new(store, self.gate.clone()))
        } else {
            TestStore::new(store)
        }
    }

    /// Drops the case's database.
    async fn cleanup(&self) {
        let client = client().await;
        if let Err(e) = client.database(&self.database).drop().await {
            eprintln!("could not drop test database {}: {e}", self.database);
        }
    }
}

/// Test-server workaround, used on SecantusDB only.
///
/// MongoDB's `findAndModify` returns the document exactly as its own write found it. SecantusDB
/// 0.5.3 finds the document, then writes with the filter re-asserted, and returns the image it
/// *found*: when a claim (`queued` → `processing`) or a retry (`processing` → `queued`) lands
/// between the two steps, the cancel's filter still matches and it reports the stale status.
/// This wrapper keeps cancels from overlapping the calls that change a job's status (claims,
/// outcomes, rescues, releases, retries) through any handle of the same case; every other call, and
/// those calls among themselves, still run concurrently on the server.
pub(crate) struct CancelGate {
    store: MongoStore,
    gate: Arc<RwLock<()>>,
}

impl CancelGate {
    /// Wraps `store`, sharing `gate` with the case's other handles.
    pub(crate) fn new(store: MongoStore, gate: Arc<RwLock<()>>) -> Self {
        Self { store, gate }
    }
}

#[async_trait]
impl JobStore for CancelGate {
    async fn insert_jobs(&self, insert: &InsertJobs<'_>) -> Result<Vec<Inserted>> {
        self.store.insert_jobs(insert).await
    }

    async fn claim_jobs(&self, claim: &ClaimJobs<'_>) -> Result<Vec<Job>> {
        let _shared = self.gate.read().await;
        self.store.claim_jobs(claim).await
    }

    async fn record_outcomes(&self, outcomes: &[Outcome]) -> Result<Vec<bool>> {
        let _shared = self.gate.read().await;
        self.store.record_outcomes(outcomes).await
    }

    async fn rescue_jobs(&self, outcomes: &[Outcome]) -> Result<Vec<bool>> {
        let _shared = self.gate.read().await;
        self.store.rescue_jobs(outcomes).await
    }

    async fn release_jobs(&self, leases: &[Lease]) -> Result<Vec<bool>> {
        let _shared = self.gate.read().await;
        self.store.release_jobs(leases).await
    }

    async fn renew_leases(&self, renew: &RenewLeases<'_>) -> Result<Vec<bool>> {
        self.store.renew_leases(renew).await
    }

    async fn expired_leases(&self, query: &ExpiredLeases) -> Result<Vec<Job>> {
        self.store.expired_leases(query).await
    }

    async fn cancel_job(&self, cancel: &CancelJob<'_>) -> Result<Option<JobStatus>> {
        let _exclusive = self.gate.write().await;
        self.store.cancel_job(cancel).await
    }

    async fn get_job(&self, id: &JobId) -> Result<Option<Job>> {
        self.store.get_job(id).await
    }

    async fn job_errors(&self, id: &JobId) -> Result<Option<Vec<ErrorRecord>>> {
        self.store.job_errors(id).await
    }

    async fn list_jobs(&self, query: &JobQuery) -> Result<Vec<Job>> {
        self.store.list_jobs(query).await
    }

    async fn count_jobs(&self) -> Result<StatusCounts> {
        self.store.count_jobs().await
    }

    async fn remove_jobs(&self, remove: &RemoveJobs<'_>) -> Result<StatusCounts> {
        self.store.remove_jobs(remove).await
    }

    async fn reclaim_space(&self) -> Result<()> {
        self.store.reclaim_space().await
    }

    async fn retry_jobs(&self, retry: &RetryJobs<'_>) -> Result<StatusCounts> {
        let _shared = self.gate.read().await;
        self.store.retry_jobs(retry).await
    }

    async fn pause_names(&self, pause: &PauseNames<'_>) -> Result<()> {
        self.store.pause_names(pause).await
    }

    async fn paused_names(&self) -> Result<Vec<PausedName>> {
        self.store.paused_names().await
    }

    async fn acquire_leader(&self, acquire: &AcquireLeader<'_>) -> Result<bool> {
        self.store.acquire_leader(acquire).await
    }

    async fn leaders(&self) -> Result<Vec<Leader>> {
        self.store.leaders().await
    }

    fn wakeups(&self) -> Option<Arc<Notify>> {
        self.store.wakeups()
    }
}

#[async_trait]
impl SchedulerStore for CancelGate {
    async fn insert_item(&self, item: &SchedulerItem) -> Result<()> {
        self.store.insert_item(item).await
    }

    async fn get_item(&self, id: &ItemId) -> Result<Option<SchedulerItem>> {
        self.store.get_item(id).await
    }

    async fn list_items(&self) -> Result<Vec<SchedulerItem>> {
        self.store.list_items().await
    }

    async fn update_item(&self, item: &SchedulerItem) -> Result<bool> {
        self.store.update_item(item).await
    }

    async fn delete_item(&self, id: &ItemId) -> Result<bool> {
        self.store.delete_item(id).await
    }

    async fn claim_items(&self, claim: &ClaimItems) -> Result<Vec<SchedulerItem>> {
        self.store.claim_items(claim).await
    }

    async fn take_items(&self, takes: &[Take]) -> Result<Vec<bool>> {
        self.store.take_items(takes).await
    }
}

#[cfg(feature = "testcontainers")]
mod container {
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    use remote_mongo::mongodb::bson::doc;
    use remote_mongo::mongodb::Client;
    use testcontainers::core::{IntoContainerPort, WaitFor};
    use testcontainers::runners::SyncRunner;
    use testcontainers::{GenericImage, ImageExt};

    /// The URL of a `mongo` container started once per test binary (removed at exit).
    pub(super) fn url() -> String {
        static URL: OnceLock<String> = OnceLock::new();
        URL.get_or_init(|| {
            std::thread::spawn(start)
                .join()
                .unwrap_or_else(|_| panic!("starting the mongo container failed"))
        })
        .clone()
    }

    fn start() -> String {
        let container = GenericImage::new("mongo", "8.0")
            .with_exposed_port(27017.tcp())
            .with_wait_for(WaitFor::message_on_stdout("Waiting for connections"))
            .with_cmd(["--replSet", "rs0", "--bind_ip_all"])
            .start()
            .unwrap_or_else(|e| {
                panic!(
                    "no {} set and no Docker engine to start the mongo image: {e}",
                    super::URL_VARIABLE
                )
            });
        let host = container.get_host().expect("container host");
        let port = container
            .get_host_port_ipv4(27017.tcp())
            .expect("container port");
        let url = format!("mongodb://{host}:{port}/?directConnection=true");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime to initiate the replica set");
        runtime.block_on(initiate(&url));
        Box::leak(Box::new(container));
        url
    }

    /// Makes the container a one-node replica set (transactions, change streams).
    async fn initiate(url: &str) {
        let client = Client::with_uri_str(url).await.expect("client");
        let admin = client.database("admin");
        admin
            .run_command(doc! {
                "replSetInitiate": {
                    "_id": "rs0",
                    "members": [{ "_id": 0, "host": "127.0.0.1:27017" }],
                },
            })
            .await
            .expect("replSetInitiate");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let hello = admin.run_command(doc! { "hello": 1 }).await.expect("hello");
            if hello.get_bool("isWritablePrimary").unwrap_or(false) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the replica set elected no primary"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
