//! Store-level tests of the job features on MongoDB that the conformance suite cannot see: the
//! unique-key guard through status changes that meet a key held by another job (R27), inserts
//! of shared keys racing from several clients, documents of the previous layout (version 1)
//! read back with the features' defaults, and adding jobs in the application's transaction
//! (R32).

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use common::{client, fresh_database, DropOnExit};
use futures::TryStreamExt;
use remote_core::{
    handler_fn, CancelJob, ClaimJobs, Error, InsertJobs, Inserted, Job, JobContext, JobError,
    JobFactory, JobId, JobOptions, JobStatus, JobStore, Lease, LeaseToken, OnConflict, Outcome,
    OutcomeKind, Processor, StatusSet, Unique,
};
use remote_mongo::mongodb::bson::{doc, oid::ObjectId, Bson, Document};
use remote_mongo::mongodb::Database;
use remote_mongo::{MongoConfig, MongoStore};
use serde_json::json;

/// The current time in whole milliseconds, as stores keep it.
fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).expect("a representable time")
}

async fn open(database: &Database) -> MongoStore {
    MongoStore::open(database.clone(), MongoConfig::default())
        .await
        .expect("open the store")
}

/// A queued echo job added at `at` with unique key `key` held across `across`.
fn keyed(key: &str, across: &[JobStatus], at: DateTime<Utc>) -> Job {
    Job {
        unique_key: Some(key.to_owned()),
        unique_across: StatusSet::of(across),
        ..Job::queued("echo", json!(key), 3, Duration::from_secs(1), at)
    }
}

async fn insert(store: &MongoStore, jobs: &[Job]) -> Vec<Inserted> {
    store
        .insert_jobs(&InsertJobs {
            jobs,
            on_conflict: OnConflict::Refuse,
        })
        .await
        .expect("insert jobs")
}

async fn claim(store: &MongoStore, at: DateTime<Utc>, limit: usize) -> Vec<Job> {
    let names = ["echo".to_owned()];
    store
        .claim_jobs(&ClaimJobs {
            names: &names,
            now: at,
            lease_until: at + TimeDelta::seconds(30),
            token: LeaseToken::random(),
            limit,
        })
        .await
        .expect("claim")
}

fn lease(job: &Job) -> Lease {
    Lease {
        id: job.id.clone(),
        token: job.lease_token.expect("a claimed job"),
    }
}

fn completed(job: &Job, at: DateTime<Utc>) -> Outcome {
    Outcome {
        lease: lease(job),
        now: at,
        kind: OutcomeKind::Completed { output: json!(1) },
    }
}

/// The jobs carrying the unique-key guard for `key`.
async fn guards(store: &MongoStore, key: &str) -> Vec<JobId> {
    let docs: Vec<Document> = store
        .jobs_collection()
        .find(doc! { "unique_holder": key })
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    docs.iter()
        .map(|d| JobId::parse(&d.get_object_id("_id").unwrap().to_hex()).unwrap())
        .collect()
}

/// R27: the guard field follows every status change, also one that makes a job hold a key
/// another job holds already (a completion, a claim or a cancel into a status the job is
/// unique across, a release back into one): the change applies, every job holding its key
/// carries the guard and no other does, and an insert of the key is answered with a holder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guard_follows_every_status_change() {
    use JobStatus::{Cancelled, Completed, Processing, Queued};
    let client = client().await;
    let database = fresh_database(&client);
    let _drop = DropOnExit(database.clone());
    let store = open(&database).await;
    let t0 = now() - TimeDelta::hours(1);
    let ms = TimeDelta::milliseconds;
    let held = |ids: &[&JobId]| -> HashSet<JobId> { ids.iter().map(|id| (*id).clone()).collect() };
    let guarded = |key: &'static str| {
        let store = store.clone();
        async move {
            guards(&store, key)
                .await
                .into_iter()
                .collect::<HashSet<_>>()
        }
    };

    // Held across queued and processing (the default): taken on insert, kept by the claim,
    // given up by the completion.
    let live = keyed("live", &[Queued, Processing], t0);
    insert(&store, std::slice::from_ref(&live)).await;
    assert_eq!(guarded("live").await, held(&[&live.id]));
    let running = claim(&store, t0, 1).await;
    assert_eq!(
        guarded("live").await,
        held(&[&live.id]),
        "kept while processing"
    );
    assert_eq!(
        store
            .record_outcomes(&[completed(&running[0], t0)])
            .await
            .unwrap(),
        [true]
    );
    assert!(guarded("live").await.is_empty(), "given up once completed");

    // Held across `completed` only: two jobs of one key run and complete; both hold it.
    let (a, b) = (
        keyed("done", &[Completed], t0),
        keyed("done", &[Completed], t0 + ms(1)),
    );
    assert_eq!(
        insert(&store, &[a.clone(), b.clone()]).await,
        [Inserted::Stored, Inserted::Stored]
    );
    assert!(guarded("done").await.is_empty(), "not held while queued");
    let running = claim(&store, t0, 2).await;
    assert_eq!(running.len(), 2);
    let outcomes = [completed(&running[0], t0), completed(&running[1], t0)];
    assert_eq!(
        store.record_outcomes(&outcomes).await.unwrap(),
        [true, true]
    );
    assert_eq!(guarded("done").await, held(&[&a.id, &b.id]));
    let again = keyed("done", &[Queued, Processing, Completed], t0);
    match &insert(&store, &[again]).await[..] {
        [Inserted::Duplicate(holder)] => assert!(*holder == a.id || *holder == b.id, "{holder}"),
        other => panic!("a duplicate of a completed holder: {other:?}"),
    }

    // Held across `processing` only: taken by the claim.
    let (c, d) = (
        keyed("run", &[Processing], t0),
        keyed("run", &[Processing], t0 + ms(1)),
    );
    insert(&store, &[c.clone(), d.clone()]).await;
    assert_eq!(claim(&store, t0, 5).await.len(), 2);
    assert_eq!(guarded("run").await, held(&[&c.id, &d.id]));

    // Held across `cancelled` only: taken by the cancel.
    let e = keyed("gone", &[Cancelled], t0);
    insert(&store, std::slice::from_ref(&e)).await;
    let was = store
        .cancel_job(&CancelJob {
            id: &e.id,
            cancellable: &[Queued],
            now: t0,
        })
        .await
        .unwrap();
    assert_eq!(was, Some(Queued));
    assert_eq!(guarded("gone").await, held(&[&e.id]));

    // Held across `queued` only (as the store may be given it): given up by the claim, taken
    // again by the release.
    let g = keyed("wait", &[Queued], t0 - TimeDelta::seconds(1));
    insert(&store, std::slice::from_ref(&g)).await;
    let taken = claim(&store, t0, 1).await;
    assert_eq!(taken[0].id, g.id);
    assert!(
        guarded("wait").await.is_empty(),
        "not held while processing"
    );
    assert_eq!(
        store.release_jobs(&[lease(&taken[0])]).await.unwrap(),
        [true]
    );
    assert_eq!(guarded("wait").await, held(&[&g.id]));
}

/// R27 across processes: four clients insert batches drawn from eight shared keys at once;
/// one job is stored per key, and every other answer names the job stored for its key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inserts_of_shared_keys_from_four_clients_store_one_job_per_key() {
    let first = client().await;
    let database = fresh_database(&first);
    let _drop = DropOnExit(database.clone());
    let mut stores = vec![open(&database).await];
    for _ in 1..4 {
        stores.push(open(&client().await.database(database.name())).await);
    }
    let t0 = now();
    let mut tasks = Vec::new();
    for round in 0..5 {
        for (n, store) in stores.iter().enumerate() {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let jobs: Vec<Job> = (0..10)
                    .map(|i| {
                        keyed(
                            &format!("k{}", (i + n + round) % 8),
                            &[JobStatus::Queued, JobStatus::Processing],
                            t0,
                        )
                    })
                    .collect();
                let answers = insert(&store, &jobs).await;
                jobs.into_iter().zip(answers).collect::<Vec<_>>()
            }));
        }
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.extend(task.await.unwrap());
    }
    let stored: Vec<Job> = stores[0].list_jobs(&Default::default()).await.unwrap();
    assert_eq!(stored.len(), 8, "one job per key");
    let by_key: HashMap<String, JobId> = stored
        .iter()
        .map(|j| (j.unique_key.clone().unwrap(), j.id.clone()))
        .collect();
    assert_eq!(by_key.len(), 8);
    let mut stored_answers = 0;
    for (job, answer) in &answers {
        let holder = &by_key[job.unique_key.as_deref().unwrap()];
        match answer {
            Inserted::Stored => {
                stored_answers += 1;
                assert_eq!(&job.id, holder);
            }
            Inserted::Duplicate(id) => assert_eq!(id, holder, "{job:?}"),
            Inserted::Skipped => panic!("nothing is skipped: {job:?}"),
        }
    }
    assert_eq!(stored_answers, 8);
}

/// Jobs written by the previous layout (version 1: renamed fields, none of the job features)
/// get the features' fields when a store opens: they read back with priority 0, no unique key
/// (held across queued and processing), no timeout and no snoozes, and are claimed among new
/// jobs by priority. The layout version becomes 2, and a second open changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_of_layout_version_1_read_back_with_the_feature_defaults() {
    let client = client().await;
    let database = fresh_database(&client);
    let _drop = DropOnExit(database.clone());
    let jobs = database.collection::<Document>("rjobs");
    let log = database.collection::<Document>("rmigrations");
    let t0 = now() - TimeDelta::hours(1);
    let date = |t: DateTime<Utc>| {
        Bson::DateTime(remote_mongo::mongodb::bson::DateTime::from_millis(
            t.timestamp_millis(),
        ))
    };
    let old = |n: i64, status: &str| {
        doc! {
            "_id": ObjectId::new(),
            "job_name": "echo",
            "input": format!("{n}"),
            "status": status,
            "output": Bson::Null,
            "attempt": 0_i64,
            "max_attempts": 3_i64,
            "retry_delay": 10_000_i64,
            "queued_at": date(t0 + TimeDelta::seconds(n)),
            "not_before": Bson::Null,
            "picked_at": Bson::Null,
            "completed_at": Bson::Null,
            "lease_until": Bson::Null,
            "lease_token": Bson::Null,
            "errors": [],
        }
    };
    let queued = old(1, "queued");
    let mut done = old(2, "completed");
    done.insert("completed_at", date(t0));
    done.insert("output", "true");
    jobs.insert_many([&queued, &done]).await.unwrap();
    log.insert_one(doc! { "_id": "rjobs", "version": 1_i64, "history": [{ "version": 1_i64, "at": date(t0) }] })
        .await
        .unwrap();

    let store = open(&database).await;
    let id = |doc: &Document| JobId::parse(&doc.get_object_id("_id").unwrap().to_hex()).unwrap();
    for doc in [&queued, &done] {
        let job = store.get_job(&id(doc)).await.unwrap().unwrap();
        assert_eq!(
            (
                job.priority,
                job.unique_key,
                job.unique_across,
                job.timeout,
                job.snoozes
            ),
            (0, None, StatusSet::LIVE, None, 0)
        );
    }
    let high = Job {
        priority: 5,
        ..Job::queued(
            "echo",
            json!("high"),
            3,
            Duration::from_secs(1),
            t0 + TimeDelta::seconds(9),
        )
    };
    let low = Job {
        priority: -1,
        ..Job::queued("echo", json!("low"), 3, Duration::from_secs(1), t0)
    };
    insert(&store, &[high.clone(), low.clone()]).await;
    let order: Vec<JobId> = claim(&store, t0 + TimeDelta::minutes(1), 10)
        .await
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(order, [high.id, id(&queued), low.id]);

    let version = || async {
        let record = log
            .find_one(doc! { "_id": "rjobs" })
            .await
            .unwrap()
            .unwrap();
        (
            record.get_i64("version").unwrap(),
            record.get_array("history").unwrap().len(),
        )
    };
    assert_eq!(version().await, (2, 2));
    drop(store);
    open(&database).await;
    assert_eq!(version().await, (2, 2), "a second open migrates nothing");
}

fn echo() -> JobFactory {
    JobFactory::new(
        "echo",
        handler_fn(|ctx: JobContext| async move { Ok::<_, JobError>(ctx.input) }),
    )
    .unique(Unique::fields(["user"]))
}

/// R32: jobs added inside the application's transaction, beside its own write, are invisible
/// to other readers and to claims until it commits, and then visible and claimed; a
/// transaction that aborts leaves neither its write nor its jobs, and frees the unique keys it
/// would have held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_added_in_a_transaction_appear_on_commit_and_vanish_on_abort() {
    let client = client().await;
    let database = fresh_database(&client);
    let _drop = DropOnExit(database.clone());
    let store = open(&database).await;
    let processor = Processor::builder(store.clone()).build();
    processor.register(echo()).unwrap();
    let orders = database.collection::<Document>("orders");

    let mut session = store.database().client().start_session().await.unwrap();
    session.start_transaction().await.unwrap();
    orders
        .insert_one(doc! { "_id": 1, "user": 7 })
        .session(&mut session)
        .await
        .unwrap();
    let job = processor
        .prepare_job("echo", json!({ "user": 7 }), JobOptions::new())
        .unwrap();
    let answers = store
        .insert_jobs_in(&mut session, std::slice::from_ref(&job))
        .await
        .unwrap();
    assert_eq!(answers, [Inserted::Stored]);
    assert_eq!(
        store.get_job(&job.id).await.unwrap(),
        None,
        "invisible before the commit"
    );
    assert!(
        claim(&store, now(), 10).await.is_empty(),
        "not claimed before the commit"
    );
    session.commit_transaction().await.unwrap();
    assert_eq!(store.get_job(&job.id).await.unwrap().as_ref(), Some(&job));
    assert_eq!(orders.count_documents(doc! {}).await.unwrap(), 1);
    assert_eq!(
        processor
            .add_job("echo", json!({ "user": 7 }))
            .await
            .unwrap(),
        job.id,
        "the committed job holds its unique key"
    );
    let claimed = claim(&store, now(), 10).await;
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, job.id);

    session.start_transaction().await.unwrap();
    orders
        .insert_one(doc! { "_id": 2, "user": 8 })
        .session(&mut session)
        .await
        .unwrap();
    let gone = processor
        .prepare_job("echo", json!({ "user": 8 }), JobOptions::new())
        .unwrap();
    let answers = store
        .insert_jobs_in(&mut session, std::slice::from_ref(&gone))
        .await
        .unwrap();
    assert_eq!(answers, [Inserted::Stored]);
    session.abort_transaction().await.unwrap();
    assert_eq!(
        store.get_job(&gone.id).await.unwrap(),
        None,
        "gone with the abort"
    );
    assert_eq!(orders.count_documents(doc! {}).await.unwrap(), 1);
    let after = processor
        .add_job("echo", json!({ "user": 8 }))
        .await
        .unwrap();
    assert_ne!(after, gone.id, "the aborted job held no key");
}

/// R27, R32: in a transaction, a job whose key a stored job holds, or an earlier job of the
/// batch, is answered with the holder and nothing aborts the transaction; a stored or
/// repeated id refuses the call before anything is written, and the transaction still commits
/// its other writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_and_refusals_in_a_transaction_leave_it_usable() {
    use JobStatus::{Processing, Queued};
    let client = client().await;
    let database = fresh_database(&client);
    let _drop = DropOnExit(database.clone());
    let store = open(&database).await;
    let t0 = now();
    let held = keyed("k", &[Queued, Processing], t0);
    insert(&store, std::slice::from_ref(&held)).await;

    let mut session = store.database().client().start_session().await.unwrap();
    session.start_transaction().await.unwrap();
    let batch = [
        keyed("k", &[Queued, Processing], t0),
        keyed("other", &[Queued, Processing], t0),
        keyed("other", &[Queued, Processing], t0),
    ];
    let answers = store.insert_jobs_in(&mut session, &batch).await.unwrap();
    assert_eq!(
        answers,
        [
            Inserted::Duplicate(held.id.clone()),
            Inserted::Stored,
            Inserted::Duplicate(batch[1].id.clone())
        ]
    );
    match store
        .insert_jobs_in(&mut session, std::slice::from_ref(&held))
        .await
    {
        Err(Error::JobExists(id)) => assert_eq!(id, held.id),
        other => panic!("a stored id is refused: {other:?}"),
    }
    let fresh = keyed("third", &[Queued, Processing], t0);
    match store
        .insert_jobs_in(&mut session, &[fresh.clone(), fresh.clone()])
        .await
    {
        Err(Error::JobExists(id)) => assert_eq!(id, fresh.id),
        other => panic!("a repeated id is refused: {other:?}"),
    }
    session.commit_transaction().await.unwrap();
    let ids: HashSet<JobId> = store
        .list_jobs(&Default::default())
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(ids, HashSet::from([held.id.clone(), batch[1].id.clone()]));
}

/// R27, R32: a key another caller stores after the transaction began is refused by the unique
/// index when the transaction adds a job with it: the call is a store error, the transaction
/// is aborted, and nothing of it is stored; run again, the transaction answers with the holder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_taken_during_a_transaction_aborts_it_and_a_rerun_finds_the_holder() {
    use JobStatus::{Processing, Queued};
    let client = client().await;
    let database = fresh_database(&client);
    let _drop = DropOnExit(database.clone());
    let store = open(&database).await;
    let t0 = now();

    let mut session = store.database().client().start_session().await.unwrap();
    session.start_transaction().await.unwrap();
    // The transaction's snapshot starts with its first read.
    store
        .jobs_collection()
        .find_one(doc! {})
        .session(&mut session)
        .await
        .unwrap();
    let other = keyed("race", &[Queued, Processing], t0);
    insert(&store, std::slice::from_ref(&other)).await;
    let mine = keyed("race", &[Queued, Processing], t0);
    match store
        .insert_jobs_in(&mut session, std::slice::from_ref(&mine))
        .await
    {
        Err(e) => assert!(e.is_store(), "{e:?}"),
        Ok(answers) => panic!("the index refuses the key: {answers:?}"),
    }
    assert!(
        session.commit_transaction().await.is_err(),
        "the transaction was aborted"
    );
    assert_eq!(store.get_job(&mine.id).await.unwrap(), None);

    session.start_transaction().await.unwrap();
    let answers = store
        .insert_jobs_in(&mut session, std::slice::from_ref(&mine))
        .await
        .unwrap();
    assert_eq!(answers, [Inserted::Duplicate(other.id.clone())]);
    session.commit_transaction().await.unwrap();
}
