//! Store-level tests of what the conformance suite cannot see: the claim's index, durability
//! across clients (R21), bad input and bad documents (R22), change-stream wakeups, and claims
//! from two clients at once (R2).

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use common::{client, fresh_database, server_url};
use remote_core::{
    handler_fn, Claim, Clock, Error, ErrorRecord, Failure, Job, JobContext, JobError, JobFactory,
    JobId, JobQuery, JobStatus, JobStore, LeaseToken, ManualClock, Processor, SchedulerItem,
    SchedulerStore, WorkerConfig,
};
use remote_mongo::mongodb::bson::{doc, Bson, Document};
use remote_mongo::mongodb::event::command::CommandEvent;
use remote_mongo::mongodb::event::EventHandler;
use remote_mongo::mongodb::options::ClientOptions;
use remote_mongo::mongodb::{Client, Database};
use remote_mongo::{MongoConfig, MongoStore, CLAIM_INDEX};
use serde_json::{json, Value};

/// The current time in whole milliseconds, as stores keep it.
fn now() -> DateTime<Utc> {
    remote_core::clock::to_millis(Utc::now())
}

/// A store in `database` with the default options.
async fn open(database: &Database) -> MongoStore {
    MongoStore::open(database.clone(), MongoConfig::default())
        .await
        .expect("open the store")
}

/// Drops the database when the test ends, passed or failed.
struct DropOnExit(Database);

impl Drop for DropOnExit {
    fn drop(&mut self) {
        let database = self.0.clone();
        let url = server_url();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                if let Ok(client) = Client::with_uri_str(&url).await {
                    let _ = client.database(database.name()).drop().await;
                }
            });
        })
        .join()
        .ok();
    }
}

fn echo() -> JobFactory {
    JobFactory::new(
        "echo",
        handler_fn(|ctx: JobContext| async move { Ok::<_, JobError>(ctx.input) }),
    )
}

fn processor(store: &MongoStore, clock: &Arc<ManualClock>) -> Processor {
    let p = Processor::builder(store.clone())
        .clock(clock.clone())
        .build();
    p.register(echo()).expect("fresh processor");
    p
}

fn claim(names: &[String], now: DateTime<Utc>, limit: usize) -> Claim<'_> {
    Claim {
        names,
        now,
        lease_until: now + TimeDelta::seconds(30),
        token: LeaseToken::random(),
        limit,
    }
}

/// Every `stage` of an explain output with its index name, depth first.
fn stages(value: &Bson, out: &mut Vec<(String, Option<String>)>) {
    match value {
        Bson::Document(doc) => {
            if let Ok(stage) = doc.get_str("stage") {
                let index = doc.get_str("indexName").ok().map(str::to_owned);
                out.push((stage.to_owned(), index));
            }
            for (_, child) in doc {
                stages(child, out);
            }
        }
        Bson::Array(items) => items.iter().for_each(|item| stages(item, out)),
        _ => {}
    }
}

/// The commands of a claim, as the store sends them, use the indexes: the sorted read of
/// candidates is an index scan of the claim index in pull order (no collection scan, no
/// in-memory sort, a handful of keys examined among 100,000 queued jobs), and each conditional
/// update finds its job through `_id`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_uses_the_indexes_on_100k_queued_jobs() {
    let sent: Arc<Mutex<Vec<Document>>> = Arc::default();
    let mut options = ClientOptions::parse(server_url()).await.expect("URL");
    let log = sent.clone();
    options.command_event_handler = Some(EventHandler::callback(move |event| {
        if let CommandEvent::Started(started) = event {
            if ["find", "findAndModify"].contains(&started.command_name.as_str()) {
                log.lock().unwrap().push(started.command);
            }
        }
    }));
    let client = Client::with_options(options).expect("client");
    let database = fresh_database(&client);
    let _drop = DropOnExit(database.clone());
    let store = open(&database).await;

    let start = now() - TimeDelta::days(1);
    for batch in 0..10 {
        let jobs: Vec<Job> = (0..10_000)
            .map(|n| {
                let at = start + TimeDelta::milliseconds(batch * 10_000 + n);
                Job::queued("echo", json!(n), 3, Duration::from_secs(10), at)
            })
            .collect();
        store.insert_jobs(&jobs).await.expect("insert a batch");
    }
    assert_eq!(
        store
            .jobs_collection()
            .count_documents(doc! {})
            .await
            .unwrap(),
        100_000
    );

    let names = vec!["echo".to_owned()];
    sent.lock().unwrap().clear();
    let claimed = store.claim_jobs(&claim(&names, now(), 1)).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].queued_at, start, "the oldest job first");

    let sent = std::mem::take(&mut *sent.lock().unwrap());
    let command = |name: &str, keys: &[&str]| {
        let sent = sent
            .iter()
            .find(|c| c.contains_key(name))
            .unwrap_or_else(|| panic!("the claim sends {name}: {sent:?}"));
        let mut inner = Document::new();
        for key in keys {
            if let Some(value) = sent.get(*key) {
                inner.insert(*key, value.clone());
            }
        }
        inner
    };
    let read = explain(
        &database,
        command(
            "find",
            &["find", "filter", "sort", "projection", "limit", "hint"],
        ),
    )
    .await;
    assert!(
        read.winning
            .iter()
            .any(|(stage, index)| stage == "IXSCAN" && index.as_deref() == Some(CLAIM_INDEX)),
        "the candidate read scans {CLAIM_INDEX}: {:?}",
        read.winning
    );
    assert!(
        read.all.iter().all(|(stage, _)| stage != "COLLSCAN"),
        "no collection scan in any plan: {:?}",
        read.all
    );
    assert!(
        read.winning.iter().all(|(stage, _)| stage != "SORT"),
        "the index gives the pull order, no in-memory sort: {:?}",
        read.winning
    );
    assert!(read.keys_examined <= 40, "{read:?}");
    assert!(read.docs_examined <= 40, "{read:?}");

    let update = explain(
        &database,
        command(
            "findAndModify",
            &["findAndModify", "query", "update", "new", "fields"],
        ),
    )
    .await;
    assert!(
        update
            .winning
            .iter()
            .any(|(_, index)| index.as_deref() == Some("_id_")),
        "the conditional update finds its job by _id: {:?}",
        update.winning
    );
    assert!(update.keys_examined <= 1, "{update:?}");
}

/// What `explain` says of a command: its stages and how much it examined.
#[derive(Debug)]
struct Explained {
    winning: Vec<(String, Option<String>)>,
    all: Vec<(String, Option<String>)>,
    keys_examined: i64,
    docs_examined: i64,
}

async fn explain(database: &mongodb::Database, command: Document) -> Explained {
    let explain = database
        .run_command(doc! { "explain": command.clone(), "verbosity": "executionStats" })
        .await
        .unwrap_or_else(|e| panic!("explain {command}: {e}"));
    let planner = explain
        .get_document("queryPlanner")
        .expect("queryPlanner in the explain output");
    let mut winning = Vec::new();
    stages(
        planner.get("winningPlan").expect("a winning plan"),
        &mut winning,
    );
    let mut all = Vec::new();
    stages(&Bson::Document(explain.clone()), &mut all);
    let stats = explain
        .get_document("executionStats")
        .expect("executionStats in the explain output");
    let examined = |key: &str| match stats.get(key) {
        Some(Bson::Int32(n)) => i64::from(*n),
        Some(Bson::Int64(n)) => *n,
        other => panic!("{key}: {other:?}"),
    };
    let explained = Explained {
        winning,
        all,
        keys_examined: examined("totalKeysExamined"),
        docs_examined: examined("totalDocsExamined"),
    };
    println!("{command}: {explained:?}");
    explained
}

/// R21: jobs, their error records and scheduler items survive dropping the client; a job left
/// processing by the dead client comes back through lease recovery (R8).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survives_dropping_and_reopening_the_client() {
    let name = {
        let client = client().await;
        fresh_database(&client).name().to_owned()
    };
    let _drop = DropOnExit(client().await.database(&name));
    let clock = Arc::new(ManualClock::new(now()));
    let (job, errors, item, running) = {
        let client = client().await;
        let database = client.database(&name);
        let store = open(&database).await;
        let p = processor(&store, &clock);
        let failing = p.add_job("echo", json!({"keep": "me"})).await.unwrap();
        let claimed = p.pull_next_job().await.unwrap().expect("claimed");
        let token = claimed.lease_token.expect("a token");
        let record = ErrorRecord::new(1, "first failure: root cause", clock.now());
        let failed = store
            .fail_job(
                &failing,
                token,
                &Failure {
                    record,
                    retry_at: Some(clock.now() + TimeDelta::seconds(5)),
                    now: clock.now(),
                    lease_expired: false,
                },
            )
            .await
            .unwrap();
        assert!(failed);
        clock.advance(Duration::from_secs(1));
        let running = p.add_job("echo", json!("running")).await.unwrap();
        let claimed = p.pull_next_job().await.unwrap().expect("claimed");
        assert_eq!(claimed.id, running, "the failed job waits for its retry");
        let item = SchedulerItem::delay("echo", 60)
            .with_input(json!({"$where": 1}))
            .with_next_call_time(clock.now() + TimeDelta::seconds(60));
        store.insert_item(&item).await.unwrap();
        let job = store.get_job(&failing).await.unwrap().expect("stored");
        let errors = store.job_errors(&failing).await.unwrap().expect("stored");
        drop(p);
        drop(store);
        client.shutdown().await;
        (job, errors, item, running)
    };

    let client = client().await;
    let database = client.database(&name);
    let store = open(&database).await;
    assert_eq!(store.get_job(&job.id).await.unwrap(), Some(job.clone()));
    assert_eq!(store.job_errors(&job.id).await.unwrap(), Some(errors));
    assert_eq!(store.get_item(&item.id).await.unwrap(), Some(item));
    assert_eq!(
        store.get_job(&running).await.unwrap().map(|j| j.status),
        Some(JobStatus::Processing)
    );

    clock.advance(Duration::from_secs(31));
    let p = processor(&store, &clock);
    assert_eq!(p.recover_expired_jobs().await.unwrap(), 1);
    let recovered = p.get_job(&running).await.unwrap();
    assert_eq!(recovered.status, JobStatus::Queued);
    let records = p.job_errors(&running).await.unwrap();
    assert_eq!(records.len(), 1);
    assert!(records[0].message.contains("worker lost"), "{records:?}");
}

/// R22: ids from outside are validated by the core; a malformed stored document is a store
/// error naming the field, never a panic, and a good job beside it stays readable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_ids_and_documents_are_typed_errors() {
    for bad in [
        "zz",
        "",
        "0123456789abcdef0123456g",
        "6b0ad3b6eff6479587829c3",
    ] {
        assert!(
            matches!(JobId::parse(bad), Err(Error::InvalidId { .. })),
            "{bad}"
        );
    }
    let client = client().await;
    let database = fresh_database(&client);
    let _drop = DropOnExit(database.clone());
    let store = open(&database).await;
    let clock = Arc::new(ManualClock::new(now()));
    let p = processor(&store, &clock);
    let good = p.add_job("echo", json!(1)).await.unwrap();
    let bad = p.add_job("echo", json!(2)).await.unwrap();
    let bad_oid = remote_mongo::mongodb::bson::oid::ObjectId::parse_str(bad.as_str()).unwrap();

    let breakages = [
        (doc! { "$set": { "status": 42 } }, false),
        (doc! { "$set": { "status": "sleeping" } }, false),
        (doc! { "$set": { "input": "{not json" } }, false),
        (doc! { "$set": { "input": { "a": 1 } } }, false),
        (doc! { "$set": { "queued_at": "yesterday" } }, false),
        (doc! { "$set": { "retry_counter": -1_i64 } }, false),
        (doc! { "$unset": { "job_name": "" } }, false),
        (doc! { "$set": { "errors": [ { "message": 7 } ] } }, true),
        (doc! { "$set": { "errors": "none" } }, true),
    ];
    for (breakage, in_errors) in breakages {
        let original = store
            .jobs_collection()
            .find_one(doc! { "_id": bad_oid })
            .await
            .unwrap()
            .unwrap();
        store
            .jobs_collection()
            .update_one(doc! { "_id": bad_oid }, breakage.clone())
            .await
            .unwrap();
        let read = if in_errors {
            p.job_errors(&bad).await.map(|_| ())
        } else {
            p.get_job(&bad).await.map(|_| ())
        };
        match read {
            Err(e) if e.is_store() => {
                let text = remote_core::error::error_chain(&e);
                assert!(text.contains(bad.as_str()), "names the job: {text}");
            }
            other => panic!("{breakage}: expected a store error, got {other:?}"),
        }
        if !in_errors {
            assert!(p.list_jobs(&JobQuery::default()).await.is_err());
        }
        store
            .jobs_collection()
            .replace_one(doc! { "_id": bad_oid }, original)
            .await
            .unwrap();
    }
    assert_eq!(p.get_job(&good).await.unwrap().input, json!(1));

    store
        .jobs_collection()
        .insert_one(doc! { "_id": "zz", "status": "queued" })
        .await
        .unwrap();
    assert!(matches!(
        p.list_jobs(&JobQuery::default()).await,
        Err(Error::Store { .. })
    ));
    store
        .scheduler_collection()
        .insert_one(doc! { "_id": bad_oid, "schedule": { "kind": "hourly" } })
        .await
        .unwrap();
    assert!(matches!(store.list_items().await, Err(Error::Store { .. })));
}

/// R22: keys that look like operators or paths, unicode, and 1 MiB inputs are data: they
/// round-trip unchanged as input and output and are never sent to the server as keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_looking_keys_and_large_inputs_round_trip() {
    let client = client().await;
    let database = fresh_database(&client);
    let _drop = DropOnExit(database.clone());
    let store = open(&database).await;
    let clock = Arc::new(ManualClock::new(now()));
    let p = processor(&store, &clock);
    let tricky = json!({
        "$where": "sleep(10000) || true",
        "$set": { "status": "completed" },
        "a.b": { "$gt": 1, "c.d": [ { "$in": [] } ] },
        "": "empty key",
        "_id": "not an id",
        "ключ": "ünïcødé ✓",
        "nested": { "$or": [ { "x": null } ], "deep": [[[{"$$var": 1}]]] },
    });
    let big = json!({ "blob": "x".repeat(1 << 20), "$k": 1 });
    for input in [
        tricky,
        big,
        json!("plain"),
        json!(null),
        json!([1, 2.5, -3]),
    ] {
        let id = p.add_job("echo", input.clone()).await.unwrap();
        assert_eq!(p.get_job(&id).await.unwrap().input, input);
        let claimed = p.pull_next_job().await.unwrap().expect("claimed");
        assert_eq!(claimed.input, input);
        p.process_job(&id).await.unwrap();
        assert_eq!(p.job_result(&id).await.unwrap(), Some(input.clone()));
        let raw = store
            .jobs_collection()
            .find_one(doc! { "_id": remote_mongo::mongodb::bson::oid::ObjectId::parse_str(id.as_str()).unwrap() })
            .await
            .unwrap()
            .unwrap();
        assert!(
            matches!(raw.get("input"), Some(Bson::String(_))),
            "input is text"
        );
        assert!(
            matches!(raw.get("output"), Some(Bson::String(_))),
            "output is text"
        );
    }
    let item = SchedulerItem::delay("echo", 5).with_input(json!({"$where": {"a.b": ""}}));
    store.insert_item(&item).await.unwrap();
    assert_eq!(store.get_item(&item.id).await.unwrap(), Some(item));
}

/// A second store on the same database (another process, in effect) gets a wakeup when the
/// first adds a job, and its idle worker runs the job long before its poll interval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_streams_wake_another_store() {
    let client_a = client().await;
    let database_a = fresh_database(&client_a);
    let _drop = DropOnExit(database_a.clone());
    let a = open(&database_a).await;
    let client_b = client().await;
    let b = open(&client_b.database(database_a.name())).await;
    assert!(
        b.has_change_streams(),
        "the test server supports change streams"
    );
    let notify = b.wakeups().expect("wakeups");

    let woken = notify.notified();
    a.insert_jobs(&[Job::queued(
        "echo",
        json!(1),
        3,
        Duration::from_secs(1),
        now(),
    )])
    .await
    .unwrap();
    tokio::time::timeout(Duration::from_secs(10), woken)
        .await
        .expect("woken within 10 s of the insert");

    let clock = Arc::new(ManualClock::new(now()));
    let worker = processor(&b, &clock);
    worker.set_worker(WorkerConfig::simple().wait_time(Duration::from_secs(600)));
    worker.start_processor();
    let adder = processor(&a, &clock);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while adder.count_jobs().await.unwrap()[&JobStatus::Completed] < 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the first job is run"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let id = adder.add_job("echo", json!("wake up")).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while adder.job_status(&id).await.unwrap() != JobStatus::Completed {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the idle worker of the other store was not woken"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    worker.stop_processor().await;
}

/// Without change streams the store reports no wakeups, so workers poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_streams_can_be_turned_off() {
    let client = client().await;
    let database = fresh_database(&client);
    let _drop = DropOnExit(database.clone());
    let store = MongoStore::open(
        database.clone(),
        MongoConfig::default().change_streams(false),
    )
    .await
    .unwrap();
    assert!(!store.has_change_streams());
    assert!(store.wakeups().is_none());
}

/// A claim whose update of one job fails after others succeeded returns the jobs it took, so
/// none of them waits for its lease to expire; with nothing taken, the failure is the error. A
/// collection validator refusing `processing` for one job makes its update fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_cut_short_by_a_failed_update_returns_the_jobs_it_took() {
    let client = client().await;
    let database = fresh_database(&client);
    let _drop = DropOnExit(database.clone());
    let store = open(&database).await;
    let start = now() - TimeDelta::minutes(1);
    let jobs: Vec<Job> = (0..3)
        .map(|n| {
            let at = start + TimeDelta::seconds(n);
            Job::queued("echo", json!(n), 3, Duration::from_secs(1), at)
        })
        .collect();
    store.insert_jobs(&jobs).await.unwrap();
    let poison =
        remote_mongo::mongodb::bson::oid::ObjectId::parse_str(jobs[1].id.as_str()).unwrap();
    database
        .run_command(doc! {
            "collMod": store.jobs_collection().name(),
            "validator": { "$or": [
                { "status": { "$ne": "processing" } },
                { "_id": { "$ne": poison } },
            ] },
        })
        .await
        .expect("a validator on the jobs collection");

    let names = vec!["echo".to_owned()];
    let claimed = store.claim_jobs(&claim(&names, now(), 3)).await.unwrap();
    let ids: Vec<&JobId> = claimed.iter().map(|j| &j.id).collect();
    assert_eq!(
        ids,
        [&jobs[0].id, &jobs[2].id],
        "the jobs taken, in pull order"
    );
    for job in &claimed {
        let stored = store.get_job(&job.id).await.unwrap().unwrap();
        assert_eq!(stored.status, JobStatus::Processing);
        assert_eq!(stored.lease_token, job.lease_token);
    }
    let refused = store.claim_jobs(&claim(&names, now(), 3)).await;
    assert!(
        matches!(refused, Err(ref e) if e.is_store()),
        "nothing taken: the failure is the error: {refused:?}"
    );
    let left = store.get_job(&jobs[1].id).await.unwrap().unwrap();
    assert_eq!(
        left.status,
        JobStatus::Queued,
        "the refused job is untouched"
    );
}

/// R2 across processes: two clients claiming concurrently hand out every job exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_claiming_concurrently_hand_out_each_job_once() {
    let client_a = client().await;
    let database = fresh_database(&client_a);
    let _drop = DropOnExit(database.clone());
    let a = open(&database).await;
    let client_b = client().await;
    let b = open(&client_b.database(database.name())).await;
    let added = now();
    let jobs: Vec<Job> = (0..300)
        .map(|n| Job::queued("echo", json!(n), 3, Duration::from_secs(1), added))
        .collect();
    a.insert_jobs(&jobs).await.unwrap();

    let mut tasks = Vec::new();
    for (i, store) in [a.clone(), b.clone(), a.clone(), b.clone(), a, b.clone()]
        .into_iter()
        .enumerate()
    {
        tasks.push(tokio::spawn(async move {
            let names = vec!["echo".to_owned()];
            let mut mine = Vec::new();
            loop {
                let got = store
                    .claim_jobs(&claim(&names, now(), 1 + i % 3))
                    .await
                    .unwrap();
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got.into_iter().map(|j| (j.id, j.lease_token)));
            }
        }));
    }
    let mut seen = HashSet::new();
    for task in tasks {
        for (id, token) in task.await.unwrap() {
            assert!(seen.insert(id.clone()), "job {id} handed out twice");
            let stored = b.get_job(&id).await.unwrap().unwrap();
            assert_eq!(
                stored.lease_token, token,
                "the last claim's token is stored"
            );
        }
    }
    assert_eq!(seen.len(), 300);
    for job in b.list_jobs(&JobQuery::default()).await.unwrap() {
        assert_eq!(job.status, JobStatus::Processing);
        assert_eq!(job.retry_counter, 1);
    }
}

/// The store opens idempotently on an existing database and uses the configured names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collection_names_are_configurable_and_opening_is_idempotent() {
    let client = client().await;
    let database = fresh_database(&client);
    let _drop = DropOnExit(database.clone());
    let config = MongoConfig::with_prefix("app_").scheduler_collection("app_cron");
    let first = MongoStore::open(database.clone(), config.clone())
        .await
        .unwrap();
    let again = MongoStore::open(database.clone(), config).await.unwrap();
    assert_eq!(first.jobs_collection().name(), "app_jobs");
    assert_eq!(again.scheduler_collection().name(), "app_cron");
    let job = Job::queued("echo", json!(1), 3, Duration::from_secs(1), now());
    first.insert_jobs(std::slice::from_ref(&job)).await.unwrap();
    assert_eq!(again.get_job(&job.id).await.unwrap(), Some(job));
    let indexes = database
        .collection::<Document>("app_jobs")
        .list_index_names()
        .await
        .unwrap();
    assert!(indexes.iter().any(|n| n == CLAIM_INDEX), "{indexes:?}");

    let defaults = MongoStore::from_database(database.clone()).await.unwrap();
    assert_eq!(defaults.jobs_collection().name(), "rjobs");
    assert_eq!(defaults.scheduler_collection().name(), "rscheduler");
}

/// R22: an unreachable server is a typed store error, not a hang or a panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_a_store_error() {
    let started = std::time::Instant::now();
    let result = MongoStore::connect(
        "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=300&connectTimeoutMS=300",
        "remote_unreachable",
    )
    .await;
    match result {
        Err(e) => assert!(e.is_store(), "{e:?}"),
        Ok(store) => panic!("connected to nothing: {store:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(matches!(
        MongoStore::connect("not a uri", "db").await,
        Err(Error::Store { .. })
    ));
}

/// Unknown ids read as absent, and fenced calls on them apply nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_ids_read_as_none() {
    let client = client().await;
    let database = fresh_database(&client);
    let _drop = DropOnExit(database.clone());
    let store = open(&database).await;
    let id = JobId::new();
    assert_eq!(store.get_job(&id).await.unwrap(), None);
    assert_eq!(store.job_errors(&id).await.unwrap(), None);
    assert_eq!(store.cancel_job(&id, now()).await.unwrap(), None);
    let value: Value = json!(null);
    assert!(!store
        .complete_job(&id, LeaseToken(1), &value, now())
        .await
        .unwrap());
}
