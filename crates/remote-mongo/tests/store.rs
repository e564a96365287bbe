//! Store-level tests of what the conformance suite cannot see: the claim's commands and index
//! plans, batches as one command each, the migration of documents written by the previous
//! version, durability across clients (R21), bad input and bad documents (R22), change-stream
//! wakeups, and claims from several clients at once (R2, R25).

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use common::{client, fresh_database, server_url, DropOnExit};
use futures::TryStreamExt;
use remote_core::{
    handler_fn, CancelJob, ClaimItems, ClaimJobs, Clock, Error, ErrorRecord, InsertJobs, Inserted,
    Job, JobContext, JobError, JobFactory, JobId, JobNames, JobQuery, JobStatus, JobStore, Lease,
    LeaseToken, ManualClock, OnConflict, Outcome, OutcomeKind, Processor, RemoveJobs, RenewLeases,
    SchedulerItem, SchedulerStore, Take, WorkerConfig,
};
use remote_mongo::mongodb::bson::{doc, oid::ObjectId, Bson, Document};
use remote_mongo::mongodb::event::command::CommandEvent;
use remote_mongo::mongodb::event::EventHandler;
use remote_mongo::mongodb::options::ClientOptions;
use remote_mongo::mongodb::{Client, Database};
use remote_mongo::{MongoConfig, MongoStore};
use serde_json::{json, Value};

/// The claim index's name, as the store creates it.
const CLAIM_INDEX: &str = "queued_priority_queued_at_id";

/// The current time in whole milliseconds, as stores keep it.
fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).expect("a representable time")
}

/// A store in `database` with the default options.
async fn open(database: &Database) -> MongoStore {
    MongoStore::open(database.clone(), MongoConfig::default())
        .await
        .expect("open the store")
}

/// A store in `database` without a change stream, whose `getMore`s would mix with the
/// commands a test counts.
async fn open_quiet(database: &Database) -> MongoStore {
    MongoStore::open(
        database.clone(),
        MongoConfig::default().change_streams(false),
    )
    .await
    .expect("open the store")
}

/// Stores `jobs`, refusing stored ids.
async fn insert(store: &MongoStore, jobs: &[Job]) {
    let inserted = store
        .insert_jobs(&InsertJobs {
            jobs,
            on_conflict: OnConflict::Refuse,
        })
        .await
        .expect("insert jobs");
    assert_eq!(inserted, vec![Inserted::Stored; jobs.len()]);
}

/// `n` queued echo jobs, one millisecond apart from `start`.
fn queued_jobs(n: i64, start: DateTime<Utc>) -> Vec<Job> {
    (0..n)
        .map(|i| {
            Job::queued(
                "echo",
                json!(i),
                3,
                Duration::from_secs(10),
                start + TimeDelta::milliseconds(i),
            )
        })
        .collect()
}

/// The commands a client sends, as its command monitoring reports them.
#[derive(Clone, Default)]
struct Sent(Arc<Mutex<Vec<Document>>>);

impl Sent {
    /// A client of the test server that records every command it starts.
    async fn client(&self) -> Client {
        let mut options = ClientOptions::parse(server_url()).await.expect("URL");
        let log = self.0.clone();
        options.command_event_handler = Some(EventHandler::callback(move |event| {
            if let CommandEvent::Started(started) = event {
                log.lock().unwrap().push(started.command);
            }
        }));
        Client::with_options(options).expect("client")
    }

    /// The commands sent since the last call, emptied.
    fn take(&self) -> Vec<Document> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    /// The names of the commands sent since the last call, emptied.
    fn names(&self) -> Vec<String> {
        self.take()
            .iter()
            .filter_map(|c| c.keys().next().cloned())
            .collect()
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

fn claim(names: &[String], now: DateTime<Utc>, limit: usize) -> ClaimJobs<'_> {
    ClaimJobs {
        names,
        now,
        lease_until: now + TimeDelta::seconds(30),
        token: LeaseToken::random(),
        limit,
    }
}

fn lease(job: &Job) -> Lease {
    Lease {
        id: job.id.clone(),
        token: job.lease_token.expect("a claimed job has a token"),
    }
}

fn oid(id: &str) -> ObjectId {
    ObjectId::parse_str(id).expect("an ObjectId")
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

/// The sent command named `name` (the `nth` of them), cut to `keys`, ready to explain.
fn command(sent: &[Document], name: &str, nth: usize, keys: &[&str]) -> Document {
    let found = sent
        .iter()
        .filter(|c| c.keys().next().map(String::as_str) == Some(name))
        .nth(nth)
        .unwrap_or_else(|| panic!("command {name} #{nth} was sent: {sent:?}"));
    let mut inner = Document::new();
    for key in keys {
        if let Some(value) = found.get(*key) {
            inner.insert(*key, value.clone());
        }
    }
    inner
}

/// The commands of a claim, as the store sends them, use the indexes: the sorted read of
/// candidates is an index scan of the claim index in pull order, highest priority first (no
/// collection scan, no in-memory sort, a handful of keys examined among 100,000 queued jobs of
/// seven priorities), and the update and the read back find their jobs through `_id`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_uses_the_indexes_on_100k_queued_jobs() {
    let sent = Sent::default();
    let client = sent.client().await;
    let database = fresh_database(&client);
    let _drop = DropOnExit(database.clone());
    let store = open_quiet(&database).await;

    let start = now() - TimeDelta::days(1);
    for batch in 0..10 {
        let at = start + TimeDelta::milliseconds(batch * 10_000);
        let mut jobs = queued_jobs(10_000, at);
        for (i, job) in jobs.iter_mut().enumerate() {
            job.priority = (i % 7) as i16 - 3;
        }
        insert(&store, &jobs).await;
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
    sent.take();
    let claimed = store.claim_jobs(&claim(&names, now(), 1)).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        (claimed[0].priority, claimed[0].queued_at),
        (3, start + TimeDelta::milliseconds(6)),
        "the oldest job of the highest priority first"
    );
    let sent = sent.take();

    let read = explain(
        &database,
        command(
            &sent,
            "find",
            0,
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
        command(&sent, "update", 0, &["update", "updates"]),
    )
    .await;
    assert!(
        update
            .winning
            .iter()
            .any(|(_, index)| index.as_deref() == Some("_id_")),
        "the update finds its jobs by _id: {:?}",
        update.winning
    );
    assert!(update.keys_examined <= 2, "{update:?}");

    let back = explain(
        &database,
        command(&sent, "find", 1, &["find", "filter", "projection", "hint"]),
    )
    .await;
    assert!(
        back.winning
            .iter()
            .any(|(_, index)| index.as_deref() == Some("_id_")),
        "the read back finds the jobs by _id: {:?}",
        back.winning
    );
    assert!(back.keys_examined <= 2, "{back:?}");
}

/// What `explain` says of a command: its stages and how much it examined.
#[derive(Debug)]
struct Explained {
    winning: Vec<(String, Option<String>)>,
    all: Vec<(String, Option<String>)>,
    keys_examined: i64,
    docs_examined: i64,
}

async fn explain(database: &Database, command: Document) -> Explained {
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

/// A claim sends the same three commands whatever its size: the candidate read, one
/// `updateMany`, the read back, with no `getMore`. With 1,000 jobs queued, claims of 1, 16 and
/// 256 each take that many jobs, the oldest first, each with the claim's lease and token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_of_any_size_is_three_commands() {
    let sent = Sent::default();
    let client = sent.client().await;
    let database = fresh_database(&client);
    let _drop = DropOnExit(database.clone());
    let store = open_quiet(&database).await;
    let start = now() - TimeDelta::hours(1);
    let jobs = queued_jobs(1_000, start);
    insert(&store, &jobs).await;

    let names = vec!["echo".to_owned()];
    let mut next = 0;
    let mut commands = Vec::new();
    for limit in [1, 16, 256] {
        sent.take();
        let asked = claim(&names, now(), limit);
        let started = Instant::now();
        let claimed = store.claim_jobs(&asked).await.unwrap();
        let took = started.elapsed();
        let names_sent = sent.names();
        println!("claim of {limit}: {names_sent:?} in {took:?}");
        let ids: Vec<&JobId> = claimed.iter().map(|j| &j.id).collect();
        let expected: Vec<&JobId> = jobs[next..next + limit].iter().map(|j| &j.id).collect();
        assert_eq!(ids, expected, "the oldest {limit} jobs, in pull order");
        next += limit;
        for job in &claimed {
            assert_eq!(job.status, JobStatus::Processing);
            assert_eq!(job.attempt, 1);
            assert_eq!(job.lease_token, Some(asked.token));
            assert_eq!(job.lease_until, Some(asked.lease_until));
            assert_eq!(job.picked_at, Some(asked.now));
        }
        commands.push(names_sent);
    }
    assert_eq!(commands[0], ["find", "update", "find"], "{commands:?}");
    assert!(
        commands.iter().all(|c| c == &commands[0]),
        "the same commands for 1, 16 and 256: {commands:?}"
    );
    let counts = store.count_jobs().await.unwrap();
    assert_eq!(counts[&JobStatus::Processing], 273);
    assert_eq!(counts[&JobStatus::Queued], 727);
}

/// Outcomes, rescues, releases, lease renewals and scheduler takes each send one `bulkWrite`
/// for a whole batch, answer per entry in order whether it applied (a stale token, a live lease,
/// a changed item apply nothing), and leave the documents as the contract says; error records
/// are appended in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_are_one_bulk_write_each() {
    let sent = Sent::default();
    let client = sent.client().await;
    let database = fresh_database(&client);
    let _drop = DropOnExit(database.clone());
    let store = open_quiet(&database).await;
    let t0 = now() - TimeDelta::hours(1);
    insert(&store, &queued_jobs(60, t0)).await;
    let names = vec!["echo".to_owned()];
    let claimed = store.claim_jobs(&claim(&names, t0, 60)).await.unwrap();
    assert_eq!(claimed.len(), 60);

    // Renew 40 leases and one with a stale token.
    let renewed_until = t0 + TimeDelta::minutes(5);
    let mut leases: Vec<Lease> = claimed[..40].iter().map(lease).collect();
    leases.push(Lease {
        id: claimed[40].id.clone(),
        token: LeaseToken::from_i64(claimed[40].lease_token.unwrap().as_i64() ^ 1),
    });
    sent.take();
    let renewed = store
        .renew_leases(&RenewLeases {
            leases: &leases,
            lease_until: renewed_until,
        })
        .await
        .unwrap();
    assert_eq!(sent.names(), ["bulkWrite"]);
    let mut expected = vec![true; 40];
    expected.push(false);
    assert_eq!(renewed, expected);
    let job = store.get_job(&claimed[0].id).await.unwrap().unwrap();
    assert_eq!(job.lease_until, Some(renewed_until));

    // Outcomes: 10 completed, 10 retried, 10 failed, one stale, one twice.
    let at = t0 + TimeDelta::seconds(1);
    let mut outcomes = Vec::new();
    for (i, job) in claimed[..30].iter().enumerate() {
        let record = ErrorRecord::new(1, format!("failure {i}"), at);
        let kind = match i / 10 {
            0 => OutcomeKind::Completed {
                output: json!({ "n": i }),
            },
            1 => OutcomeKind::Retry {
                record,
                not_before: at + TimeDelta::seconds(10),
            },
            _ => OutcomeKind::Failed { record },
        };
        outcomes.push(Outcome {
            lease: lease(job),
            now: at,
            kind,
        });
    }
    outcomes.push(Outcome {
        lease: leases[40].clone(),
        now: at,
        kind: OutcomeKind::Completed { output: json!(1) },
    });
    outcomes.push(outcomes[0].clone());
    sent.take();
    let applied = store.record_outcomes(&outcomes).await.unwrap();
    assert_eq!(sent.names(), ["bulkWrite"]);
    let mut expected = vec![true; 30];
    expected.extend([false, false]);
    assert_eq!(applied, expected);
    for (i, job) in claimed[..30].iter().enumerate() {
        let stored = store.get_job(&job.id).await.unwrap().unwrap();
        let errors = store.job_errors(&job.id).await.unwrap().unwrap();
        assert_eq!(stored.lease_token, None);
        assert_eq!(stored.lease_until, None);
        match i / 10 {
            0 => {
                assert_eq!(stored.status, JobStatus::Completed);
                assert_eq!(stored.output, Some(json!({ "n": i })));
                assert_eq!(stored.completed_at, Some(at));
                assert!(errors.is_empty());
            }
            1 => {
                assert_eq!(stored.status, JobStatus::Queued);
                assert_eq!(stored.not_before, Some(at + TimeDelta::seconds(10)));
                assert_eq!(stored.queued_at, job.queued_at);
                assert_eq!(errors.len(), 1);
            }
            _ => {
                assert_eq!(stored.status, JobStatus::Error);
                assert_eq!(stored.completed_at, Some(at));
                assert_eq!(errors.len(), 1);
                assert_eq!(errors[0].message, format!("failure {i}"));
            }
        }
    }

    // A retried job fails again: its records stay in order.
    let later = at + TimeDelta::seconds(10);
    let again = store.claim_jobs(&claim(&names, later, 10)).await.unwrap();
    assert_eq!(again.len(), 10, "the retried jobs are due again");
    assert!(again.iter().all(|j| j.attempt == 2));
    let second = ErrorRecord::new(2, "second failure", later);
    sent.take();
    let failed = store
        .record_outcomes(&[Outcome {
            lease: lease(&again[0]),
            now: later,
            kind: OutcomeKind::Failed {
                record: second.clone(),
            },
        }])
        .await
        .unwrap();
    assert_eq!(sent.names(), ["bulkWrite"]);
    assert_eq!(failed, [true]);
    let records = store.job_errors(&again[0].id).await.unwrap().unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].attempt, 1);
    assert_eq!(records[1], second);

    // Release the other nine: queued, attempt back to 1, picked_at kept; a fresh claim's
    // release clears picked_at.
    let released_leases: Vec<Lease> = again[1..].iter().map(lease).collect();
    sent.take();
    let released = store.release_jobs(&released_leases).await.unwrap();
    assert_eq!(sent.names(), ["bulkWrite"]);
    assert_eq!(released, vec![true; 9]);
    for job in &again[1..] {
        let stored = store.get_job(&job.id).await.unwrap().unwrap();
        assert_eq!(stored.status, JobStatus::Queued);
        assert_eq!(stored.attempt, 1);
        assert_eq!(stored.picked_at, Some(later), "the released claim's");
        assert_eq!(stored.lease_token, None);
        assert_eq!(store.job_errors(&job.id).await.unwrap().unwrap().len(), 1);
    }
    let fresh = &claimed[50];
    assert_eq!(store.release_jobs(&[lease(fresh)]).await.unwrap(), [true]);
    let stored = store.get_job(&fresh.id).await.unwrap().unwrap();
    assert_eq!((stored.attempt, stored.picked_at), (0, None));
    assert_eq!(
        store.release_jobs(&[lease(fresh)]).await.unwrap(),
        [false],
        "a released attempt is not released twice"
    );

    // Rescue: leases ended at t0 + 30 s (claimed[41..50]) or t0 + 5 min (claimed[30..40]).
    let rescue_at = t0 + TimeDelta::minutes(1);
    let rescues: Vec<Outcome> = claimed[30..50]
        .iter()
        .map(|job| Outcome {
            lease: lease(job),
            now: rescue_at,
            kind: OutcomeKind::Failed {
                record: ErrorRecord::new(1, "worker lost", rescue_at),
            },
        })
        .collect();
    sent.take();
    let rescued = store.rescue_jobs(&rescues).await.unwrap();
    assert_eq!(sent.names(), ["bulkWrite"]);
    let mut expected = vec![false; 10];
    expected.extend([true; 10]);
    assert_eq!(rescued, expected, "only expired leases are rescued");

    // Scheduler takes: one bulkWrite; a take with a stale expectation applies nothing.
    let due = t0 - TimeDelta::minutes(1);
    let items: Vec<SchedulerItem> = (0..5)
        .map(|_| SchedulerItem::delay("echo", 60).with_next_call_time(due))
        .collect();
    for item in &items {
        store.insert_item(item).await.unwrap();
    }
    let lock = t0 + TimeDelta::seconds(30);
    let locked = store
        .claim_items(&ClaimItems {
            now: t0,
            locked_until: lock,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(locked.len(), 5);
    let mut takes: Vec<Take> = locked
        .iter()
        .map(|item| Take {
            id: item.id.clone(),
            expected_next_call_time: due,
            expected_locked_until: lock,
            next_call_time: Some(t0 + TimeDelta::minutes(1)),
            locked_until: None,
        })
        .collect();
    takes[4].expected_locked_until = lock + TimeDelta::seconds(1);
    sent.take();
    let taken = store.take_items(&takes).await.unwrap();
    assert_eq!(sent.names(), ["bulkWrite"]);
    assert_eq!(taken, [true, true, true, true, false]);
    let item = store.get_item(&locked[0].id).await.unwrap().unwrap();
    assert_eq!(item.next_call_time, Some(t0 + TimeDelta::minutes(1)));
    assert_eq!(item.locked_until, None);
}

/// Due scheduler items are claimed in three commands whatever the batch size, earliest first,
/// and concurrent claims lock different items (R25).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduler_claims_are_three_commands_and_disjoint() {
    let sent = Sent::default();
    let client = sent.client().await;
    let database = fresh_database(&client);
    let _drop = DropOnExit(database.clone());
    let store = open_quiet(&database).await;
    let t0 = now();
    let items: Vec<SchedulerItem> = (0..300)
        .map(|i| {
            SchedulerItem::delay("echo", 60).with_next_call_time(t0 - TimeDelta::seconds(300 - i))
        })
        .collect();
    for item in &items {
        store.insert_item(item).await.unwrap();
    }
    let lock = t0 + TimeDelta::seconds(30);
    let mut next = 0;
    for limit in [1, 16, 100] {
        sent.take();
        let claimed = store
            .claim_items(&ClaimItems {
                now: t0,
                locked_until: lock,
                limit,
            })
            .await
            .unwrap();
        assert_eq!(sent.names(), ["find", "update", "find"], "claim of {limit}");
        let ids: Vec<_> = claimed.iter().map(|i| &i.id).collect();
        let expected: Vec<_> = items[next..next + limit].iter().map(|i| &i.id).collect();
        assert_eq!(ids, expected, "the earliest {limit}");
        assert!(claimed.iter().all(|i| i.locked_until == Some(lock)));
        next += limit;
    }

    let other = open_quiet(&client.database(database.name())).await;
    let tasks: Vec<_> = [store.clone(), other.clone(), store, other]
        .into_iter()
        .map(|s| {
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let got = s
                        .claim_items(&ClaimItems {
                            now: t0,
                            locked_until: lock,
                            limit: 7,
                        })
                        .await
                        .unwrap();
                    if got.is_empty() {
                        return mine;
                    }
                    mine.extend(got.into_iter().map(|i| i.id));
                }
            })
        })
        .collect();
    let mut seen = HashSet::new();
    for task in tasks {
        for id in task.await.unwrap() {
            assert!(seen.insert(id.clone()), "item {id} claimed twice");
        }
    }
    assert_eq!(seen.len(), 300 - next);
}

/// Documents written by the first layout (fields `retry_counter`, `max_retries`,
/// `retry_time` on jobs, `retry_time` and `retry_delay` on items) are renamed, and jobs get the
/// fields of the job features, when a store opens: they read back, are claimed and fired as
/// before. The layout version is recorded, a
/// second open changes nothing, and a layout newer than this version knows is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_of_the_previous_layout_are_migrated_at_open() {
    let client = client().await;
    let database = fresh_database(&client);
    let _drop = DropOnExit(database.clone());
    let jobs = database.collection::<Document>("rjobs");
    let items = database.collection::<Document>("rscheduler");
    let t0 = now() - TimeDelta::hours(1);
    let date = |t: DateTime<Utc>| {
        Bson::DateTime(remote_mongo::mongodb::bson::DateTime::from_millis(
            t.timestamp_millis(),
        ))
    };
    let old_job = |n: i64, status: &str| {
        doc! {
            "_id": ObjectId::new(),
            "job_name": "echo",
            "input": format!("{{\"n\":{n}}}"),
            "status": status,
            "output": Bson::Null,
            "retry_counter": 0_i64,
            "max_retries": 3_i64,
            "retry_delay": 10_000_i64,
            "queued_at": date(t0 + TimeDelta::seconds(n)),
            "retry_time": Bson::Null,
            "picked_at": Bson::Null,
            "completed_at": Bson::Null,
            "lease_until": Bson::Null,
            "lease_token": Bson::Null,
            "errors": [],
        }
    };
    let fresh = old_job(0, "queued");
    let mut retried = old_job(1, "queued");
    retried.insert("retry_counter", 1_i64);
    retried.insert("retry_time", date(t0 + TimeDelta::minutes(1)));
    retried.insert("picked_at", date(t0));
    retried.insert(
        "errors",
        vec![Bson::Document(doc! {
            "_id": ObjectId::new(),
            "created": date(t0),
            "attempt": 1_i64,
            "message": "first failure",
        })],
    );
    let mut waiting = old_job(2, "queued");
    waiting.insert("retry_time", date(t0 + TimeDelta::days(1)));
    let mut running = old_job(3, "processing");
    running.insert("retry_counter", 1_i64);
    running.insert("picked_at", date(t0));
    running.insert("lease_until", date(t0 + TimeDelta::seconds(30)));
    running.insert("lease_token", 77_i64);
    jobs.insert_many([&fresh, &retried, &waiting, &running])
        .await
        .unwrap();
    let item_id = ObjectId::new();
    items
        .insert_one(doc! {
            "_id": item_id,
            "job_name": "echo",
            "input": "null",
            "active": true,
            "next_call_time": date(t0),
            "retry_time": date(t0 - TimeDelta::seconds(1)),
            "retry_delay": 120_000_i64,
            "schedule": remote_mongo::mongodb::bson::to_document(&SchedulerItem::delay("echo", 60).schedule).unwrap(),
        })
        .await
        .unwrap();

    let store = open(&database).await;
    let id = |doc: &Document| JobId::parse(&doc.get_object_id("_id").unwrap().to_hex()).unwrap();
    let job = store.get_job(&id(&retried)).await.unwrap().unwrap();
    assert_eq!(job.attempt, 1);
    assert_eq!(job.max_attempts, 3);
    assert_eq!(job.retry_delay, Duration::from_secs(10));
    assert_eq!(job.not_before, Some(t0 + TimeDelta::minutes(1)));
    assert_eq!(job.input, json!({ "n": 1 }));
    let records = store.job_errors(&job.id).await.unwrap().unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].message, "first failure");
    let job = store.get_job(&id(&running)).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Processing);
    assert_eq!(job.lease_token, Some(LeaseToken::from_i64(77)));
    for doc in jobs
        .find(doc! {})
        .await
        .unwrap()
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
    {
        for old in ["retry_counter", "max_retries", "retry_time"] {
            assert!(!doc.contains_key(old), "{old} is renamed: {doc}");
        }
    }

    let names = vec!["echo".to_owned()];
    let claimed = store
        .claim_jobs(&claim(&names, t0 + TimeDelta::minutes(2), 10))
        .await
        .unwrap();
    let ids: Vec<JobId> = claimed.iter().map(|j| j.id.clone()).collect();
    assert_eq!(
        ids,
        [id(&fresh), id(&retried)],
        "the due jobs in pull order; the one waiting a day is not due"
    );
    assert_eq!(claimed[1].attempt, 2);

    let item = store
        .get_item(&remote_core::ItemId::parse(&item_id.to_hex()).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(item.lock_duration, Duration::from_secs(120));
    assert_eq!(item.locked_until, Some(t0 - TimeDelta::seconds(1)));
    let due = store
        .claim_items(&ClaimItems {
            now: t0,
            locked_until: t0 + TimeDelta::seconds(30),
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(due.len(), 1, "the item is due and its lock has passed");

    let versions = |name: &'static str| {
        let log = database.collection::<Document>("rmigrations");
        async move {
            let record = log.find_one(doc! { "_id": name }).await.unwrap().unwrap();
            (
                record.get_i64("version").unwrap(),
                record.get_array("history").unwrap().len(),
            )
        }
    };
    assert_eq!(
        versions("rjobs").await,
        (2, 2),
        "renamed, then the job features"
    );
    assert_eq!(versions("rscheduler").await, (1, 1));
    drop(store);
    let again = open(&database).await;
    assert_eq!(
        versions("rjobs").await,
        (2, 2),
        "a second open migrates nothing"
    );
    assert_eq!(
        again
            .get_job(&id(&waiting))
            .await
            .unwrap()
            .unwrap()
            .not_before,
        Some(t0 + TimeDelta::days(1))
    );

    database
        .collection::<Document>("rmigrations")
        .update_one(
            doc! { "_id": "rjobs" },
            doc! { "$set": { "version": 99_i64 } },
        )
        .await
        .unwrap();
    match MongoStore::open(database.clone(), MongoConfig::default()).await {
        Err(e) => {
            assert!(e.is_store(), "{e:?}");
            assert!(e.to_string().contains("newer"), "{e}");
        }
        Ok(_) => panic!("a layout from a newer version is refused"),
    }
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
        let record = ErrorRecord::new(1, "first failure: root cause", clock.now());
        let failed = store
            .record_outcomes(&[Outcome {
                lease: lease(&claimed),
                now: clock.now(),
                kind: OutcomeKind::Retry {
                    record,
                    not_before: clock.now() + TimeDelta::seconds(5),
                },
            }])
            .await
            .unwrap();
        assert_eq!(failed, [true]);
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
        (doc! { "$set": { "attempt": -1_i64 } }, false),
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
    insert(
        &a,
        &[Job::queued(
            "echo",
            json!(1),
            3,
            Duration::from_secs(1),
            now(),
        )],
    )
    .await;
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

/// A change stream the server closes (its collection dropped under a running store) is opened
/// again: the store is still woken by jobs added afterwards, and its watcher does not spin on
/// the closed stream (which would also keep the runtime from shutting down at the end of the
/// test).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_stream_closed_by_the_server_is_opened_again() {
    let client_a = client().await;
    let database = fresh_database(&client_a);
    let _drop = DropOnExit(database.clone());
    let a = open(&database).await;
    let b = open(&client().await.database(database.name())).await;
    let notify = b.wakeups().expect("wakeups");
    let job = || Job::queued("echo", json!(1), 3, Duration::from_secs(1), now());

    let woken = notify.notified();
    insert(&a, &[job()]).await;
    tokio::time::timeout(Duration::from_secs(10), woken)
        .await
        .expect("woken by the first insert");

    a.jobs_collection()
        .drop()
        .await
        .expect("drop the jobs collection");
    // The watcher reopens the stream after a pause and wakes the workers once; that wakeup is
    // used up here, so that only the next insert can wake the store.
    tokio::time::sleep(Duration::from_secs(2)).await;
    while tokio::time::timeout(Duration::from_millis(100), notify.notified())
        .await
        .is_ok()
    {}
    let woken = notify.notified();
    insert(&a, &[job()]).await;
    tokio::time::timeout(Duration::from_secs(10), woken)
        .await
        .expect("woken by an insert after the stream was opened again");
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

/// A claim whose update fails after it took jobs returns the jobs it took, so none of them
/// waits for its lease to expire; with nothing taken, the failure is the error, and the jobs not
/// taken stay queued. A collection validator refusing `processing` for one job makes the
/// `updateMany` fail on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_cut_short_by_a_failed_update_returns_the_jobs_it_took() {
    let client = client().await;
    let database = fresh_database(&client);
    let _drop = DropOnExit(database.clone());
    let store = open(&database).await;
    let jobs = queued_jobs(3, now() - TimeDelta::minutes(1));
    insert(&store, &jobs).await;
    let poison = oid(jobs[1].id.as_str());
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
    let mut taken = Vec::new();
    let failure = loop {
        match store.claim_jobs(&claim(&names, now(), 3)).await {
            Ok(claimed) => {
                assert!(!claimed.is_empty(), "a claim stops at the refused job");
                for job in &claimed {
                    let stored = store.get_job(&job.id).await.unwrap().unwrap();
                    assert_eq!(stored.status, JobStatus::Processing);
                    assert_eq!(stored.lease_token, job.lease_token);
                }
                taken.extend(claimed.into_iter().map(|j| j.id));
            }
            Err(e) => break e,
        }
        assert!(taken.len() < 3, "the refused job is never claimed");
    };
    assert!(failure.is_store(), "{failure:?}");
    assert!(!taken.contains(&jobs[1].id), "{taken:?}");
    for job in &jobs {
        let stored = store.get_job(&job.id).await.unwrap().unwrap();
        let expected = if taken.contains(&job.id) {
            JobStatus::Processing
        } else {
            JobStatus::Queued
        };
        assert_eq!(stored.status, expected, "job {}", job.id);
    }
}

/// R2 across processes: claimers on two clients, with batches of 1, 16 and 256 at once, hand
/// out every job exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_claiming_concurrently_hand_out_each_job_once() {
    let client_a = client().await;
    let database = fresh_database(&client_a);
    let _drop = DropOnExit(database.clone());
    let a = open(&database).await;
    let client_b = client().await;
    let b = open(&client_b.database(database.name())).await;
    insert(&a, &queued_jobs(1_000, now() - TimeDelta::minutes(1))).await;

    let mut tasks = Vec::new();
    for (store, limit) in [
        (a.clone(), 1),
        (b.clone(), 16),
        (a.clone(), 256),
        (b.clone(), 1),
        (a, 16),
        (b.clone(), 256),
    ] {
        tasks.push(tokio::spawn(async move {
            let names = vec!["echo".to_owned()];
            let mut mine = Vec::new();
            loop {
                let got = store
                    .claim_jobs(&claim(&names, now(), limit))
                    .await
                    .unwrap();
                if got.is_empty() {
                    return mine;
                }
                assert!(got.len() <= limit);
                mine.extend(got.into_iter().map(|j| (j.id, j.lease_token)));
            }
        }));
    }
    let mut seen = HashSet::new();
    let mut tokens = std::collections::HashMap::new();
    for task in tasks {
        for (id, token) in task.await.unwrap() {
            assert!(seen.insert(id.clone()), "job {id} handed out twice");
            tokens.insert(id, token);
        }
    }
    assert_eq!(seen.len(), 1_000);
    for job in b.list_jobs(&JobQuery::default()).await.unwrap() {
        assert_eq!(job.status, JobStatus::Processing);
        assert_eq!(job.attempt, 1);
        assert_eq!(
            job.lease_token, tokens[&job.id],
            "the claim's token is stored"
        );
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
    insert(&first, std::slice::from_ref(&job)).await;
    assert_eq!(again.get_job(&job.id).await.unwrap(), Some(job));
    let indexes = database
        .collection::<Document>("app_jobs")
        .list_index_names()
        .await
        .unwrap();
    assert!(indexes.iter().any(|n| n == CLAIM_INDEX), "{indexes:?}");
    let recorded = database
        .collection::<Document>("app_migrations")
        .count_documents(doc! { "_id": { "$in": ["app_jobs", "app_cron"] } })
        .await
        .unwrap();
    assert_eq!(
        recorded, 2,
        "both collections' layout versions are recorded"
    );

    let defaults = MongoStore::from_database(database.clone()).await.unwrap();
    assert_eq!(defaults.jobs_collection().name(), "rjobs");
    assert_eq!(defaults.scheduler_collection().name(), "rscheduler");
}

/// Adding jobs whose id is stored, or repeated in the call, refuses the whole call with
/// `Error::JobExists` and stores none of it; skipping stores the others and answers which.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_inserts_store_nothing_and_skips_store_the_rest() {
    let client = client().await;
    let database = fresh_database(&client);
    let _drop = DropOnExit(database.clone());
    let store = open(&database).await;
    let t0 = now();
    let stored = queued_jobs(1, t0);
    insert(&store, &stored).await;
    let mut batch = queued_jobs(3, t0);
    batch.insert(1, stored[0].clone());
    let refused = store
        .insert_jobs(&InsertJobs {
            jobs: &batch,
            on_conflict: OnConflict::Refuse,
        })
        .await;
    assert!(
        matches!(refused, Err(Error::JobExists(ref id)) if *id == stored[0].id),
        "{refused:?}"
    );
    assert_eq!(store.count_jobs().await.unwrap().values().sum::<u64>(), 1);
    let mut repeated = queued_jobs(2, t0);
    repeated.push(repeated[0].clone());
    let refused = store
        .insert_jobs(&InsertJobs {
            jobs: &repeated,
            on_conflict: OnConflict::Refuse,
        })
        .await;
    assert!(
        matches!(refused, Err(Error::JobExists(ref id)) if *id == repeated[0].id),
        "{refused:?}"
    );
    assert_eq!(store.count_jobs().await.unwrap().values().sum::<u64>(), 1);

    batch.push(batch[0].clone());
    let skipped = store
        .insert_jobs(&InsertJobs {
            jobs: &batch,
            on_conflict: OnConflict::Skip,
        })
        .await
        .unwrap();
    use Inserted::{Skipped, Stored};
    assert_eq!(skipped, [Stored, Skipped, Stored, Stored, Skipped]);
    assert_eq!(store.count_jobs().await.unwrap().values().sum::<u64>(), 4);
}

/// Removing with a limit deletes the oldest finished jobs first, with their error records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limited_removals_take_the_oldest_finished_jobs() {
    let client = client().await;
    let database = fresh_database(&client);
    let _drop = DropOnExit(database.clone());
    let store = open(&database).await;
    let t0 = now() - TimeDelta::hours(1);
    let mut jobs = queued_jobs(6, t0);
    for (i, job) in jobs.iter_mut().enumerate() {
        job.status = if i % 2 == 0 {
            JobStatus::Completed
        } else {
            JobStatus::Error
        };
        job.completed_at = Some(t0 + TimeDelta::seconds(10 - i as i64));
    }
    insert(&store, &jobs).await;
    let removed = store
        .remove_jobs(&RemoveJobs {
            statuses: &[JobStatus::Completed, JobStatus::Error],
            names: JobNames::All,
            finished_before: Some(t0 + TimeDelta::seconds(10)),
            limit: Some(3),
        })
        .await
        .unwrap();
    assert_eq!(removed[&JobStatus::Completed], 1, "{removed:?}");
    assert_eq!(removed[&JobStatus::Error], 2, "{removed:?}");
    let left: HashSet<JobId> = store
        .list_jobs(&JobQuery::default())
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect();
    let expected: HashSet<JobId> = jobs[..3].iter().map(|j| j.id.clone()).collect();
    assert_eq!(
        left, expected,
        "jobs 5, 4 and 3 finished first; job 0 is not before the cut"
    );
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
    let cancel = CancelJob {
        id: &id,
        cancellable: &[JobStatus::Queued, JobStatus::Processing],
        now: now(),
    };
    assert_eq!(store.cancel_job(&cancel).await.unwrap(), None);
    let value: Value = json!(null);
    let lease = Lease {
        id,
        token: LeaseToken::from_i64(1),
    };
    let outcome = Outcome {
        lease: lease.clone(),
        now: now(),
        kind: OutcomeKind::Completed { output: value },
    };
    assert_eq!(store.record_outcomes(&[outcome]).await.unwrap(), [false]);
    assert_eq!(store.release_jobs(&[lease]).await.unwrap(), [false]);
}
