//! Store-level tests of what the conformance suite cannot see: claims from two connections at
//! once (R2), refused scripts that write nothing, reopening (R21), huge and hostile payloads
//! and stored data that is not ours (R22), prefixes, wakeups across stores, and what the store
//! says about the server's durability.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use common::{fresh_prefix, fresh_store, keys_of, open, server_url, ClearOnDrop};
use remote_core::{
    ClaimJobs, Error, ErrorRecord, InsertJobs, Inserted, Job, JobId, JobNames, JobQuery, JobStatus,
    JobStore, Lease, LeaseToken, OnConflict, Outcome, OutcomeKind, RemoveJobs, SchedulerItem,
    SchedulerStore,
};
use remote_redis::{redis, Durability, RedisOptions, RedisStore};
use serde_json::{json, Value};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

fn job(name: &str, input: Value, queued_at: DateTime<Utc>) -> Job {
    Job::queued(name, input, 3, Duration::from_secs(10), queued_at)
}

async fn insert(store: &RedisStore, jobs: &[Job]) -> Vec<Inserted> {
    store
        .insert_jobs(&InsertJobs {
            jobs,
            on_conflict: OnConflict::Refuse,
        })
        .await
        .expect("insert jobs")
}

async fn claim(store: &RedisStore, names: &[String], now: DateTime<Utc>, limit: usize) -> Vec<Job> {
    store
        .claim_jobs(&ClaimJobs {
            names,
            now,
            lease_until: now + TimeDelta::seconds(30),
            token: LeaseToken::random(),
            limit,
        })
        .await
        .expect("claim")
}

fn lease(job: &Job) -> Lease {
    Lease {
        id: job.id.clone(),
        token: job.lease_token.expect("a claimed job has a token"),
    }
}

fn names(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

/// R2: two stores, each on its own connection, claim from one queue at once, many times; no
/// job is handed out twice and every job is handed out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_connections_claiming_at_once_never_share_a_job() {
    let prefix = fresh_prefix();
    let _clear = ClearOnDrop(prefix.clone());
    let a = open(&prefix).await;
    let b = open(&prefix).await;
    let jobs: Vec<Job> = (0..600)
        .map(|n| {
            job(
                if n % 2 == 0 { "even" } else { "odd" },
                json!(n),
                t0() + TimeDelta::milliseconds(n % 50),
            )
        })
        .collect();
    insert(&a, &jobs).await;

    let mut tasks = Vec::new();
    for (n, store) in [a.clone(), b.clone(), a.clone(), b.clone()]
        .into_iter()
        .enumerate()
    {
        tasks.push(tokio::spawn(async move {
            let asked = names(&["even", "odd"]);
            let mut mine = Vec::new();
            loop {
                let got = claim(&store, &asked, t0() + TimeDelta::minutes(1), 3 + n).await;
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got.into_iter().map(|j| j.id));
            }
        }));
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    for task in tasks {
        for id in task.await.expect("claimer") {
            total += 1;
            assert!(seen.insert(id.clone()), "job {id} was claimed twice");
        }
    }
    assert_eq!(total, jobs.len());
    let counts = b.count_jobs().await.unwrap();
    assert_eq!(counts.get(&JobStatus::Processing), Some(&600));
    assert_eq!(counts.get(&JobStatus::Queued), None);
}

/// A refused insert — a stored id or an id twice in the batch — writes nothing at all: no
/// hash, no index entry, no key; the stored job is unchanged. Skip inserts the others.
#[tokio::test]
async fn a_refused_insert_writes_nothing() {
    let store = fresh_store().await;
    let _clear = ClearOnDrop(store.prefix().to_owned());
    let stored = job("echo", json!("first"), t0());
    insert(&store, std::slice::from_ref(&stored)).await;
    let keys_before = keys_of(&store).await;

    let mut clash = job("echo", json!("second"), t0() + TimeDelta::seconds(1));
    clash.id = stored.id.clone();
    let fresh = [
        job("echo", json!(1), t0()),
        job("other", json!(2), t0()),
        job("other", json!(3), t0()),
    ];
    let batch = [fresh[0].clone(), fresh[1].clone(), clash, fresh[2].clone()];
    match store
        .insert_jobs(&InsertJobs {
            jobs: &batch,
            on_conflict: OnConflict::Refuse,
        })
        .await
    {
        Err(Error::JobExists(id)) => assert_eq!(id, stored.id),
        other => panic!("expected JobExists, got {other:?}"),
    }
    let twice = job("echo", json!(4), t0());
    match store
        .insert_jobs(&InsertJobs {
            jobs: &[twice.clone(), twice.clone()],
            on_conflict: OnConflict::Refuse,
        })
        .await
    {
        Err(Error::JobExists(id)) => assert_eq!(id, twice.id),
        other => panic!("expected JobExists, got {other:?}"),
    }
    assert_eq!(
        keys_of(&store).await,
        keys_before,
        "no key was written or removed"
    );
    for job in fresh.iter().chain([&twice]) {
        assert_eq!(store.get_job(&job.id).await.unwrap(), None);
    }
    assert_eq!(
        store.get_job(&stored.id).await.unwrap(),
        Some(stored.clone())
    );
    assert_eq!(
        store.list_jobs(&JobQuery::default()).await.unwrap(),
        vec![stored.clone()]
    );

    let skipped = store
        .insert_jobs(&InsertJobs {
            jobs: &batch,
            on_conflict: OnConflict::Skip,
        })
        .await
        .unwrap();
    use Inserted::{Skipped, Stored};
    assert_eq!(skipped, vec![Stored, Stored, Skipped, Stored]);
    assert_eq!(store.get_job(&stored.id).await.unwrap(), Some(stored));
    assert_eq!(
        store.count_jobs().await.unwrap().get(&JobStatus::Queued),
        Some(&4)
    );
}

/// R21: a store opened again on the same keys (a new connection, as after a restart of the
/// application) sees every job, record and item as they were, and the queue goes on in order.
#[tokio::test]
async fn reopening_keeps_everything() {
    let prefix = fresh_prefix();
    let _clear = ClearOnDrop(prefix.clone());
    let first = open(&prefix).await;
    let jobs: Vec<Job> = (0..6)
        .map(|n| job("echo", json!({ "n": n }), t0() + TimeDelta::seconds(n)))
        .collect();
    insert(&first, &jobs).await;
    let asked = names(&["echo"]);
    let now = t0() + TimeDelta::minutes(1);
    let claimed = claim(&first, &asked, now, 3).await;
    let record = ErrorRecord::new(1, "failed once", now);
    let applied = first
        .record_outcomes(&[
            Outcome {
                lease: lease(&claimed[0]),
                now,
                kind: OutcomeKind::Completed {
                    output: json!([1, 2]),
                },
            },
            Outcome {
                lease: lease(&claimed[1]),
                now,
                kind: OutcomeKind::Retry {
                    record: record.clone(),
                    not_before: now + TimeDelta::seconds(10),
                },
            },
        ])
        .await
        .unwrap();
    assert_eq!(applied, vec![true, true]);
    let item = SchedulerItem::delay("echo", 5).with_next_call_time(now);
    first.insert_item(&item).await.unwrap();

    let all = JobQuery {
        oldest_first: true,
        ..JobQuery::default()
    };
    let listed = first.list_jobs(&all).await.unwrap();
    let counts = first.count_jobs().await.unwrap();
    drop(first);

    let second = open(&prefix).await;
    assert_eq!(second.list_jobs(&all).await.unwrap(), listed);
    assert_eq!(second.count_jobs().await.unwrap(), counts);
    assert_eq!(
        second.job_errors(&claimed[1].id).await.unwrap(),
        Some(vec![record])
    );
    assert_eq!(second.list_items().await.unwrap(), vec![item]);
    let next = claim(&second, &asked, now + TimeDelta::seconds(10), 10).await;
    let order: Vec<&JobId> = next.iter().map(|j| &j.id).collect();
    assert_eq!(
        order,
        vec![&jobs[1].id, &jobs[3].id, &jobs[4].id, &jobs[5].id],
        "the retried job keeps its place in line"
    );
}

/// R22: a 1 MiB input, unicode, NUL characters, numbers at the edges of their types, keys
/// that look like operators or paths, and job names that look like key names all come back
/// exactly — as stored, as claimed, as output and in error records.
#[tokio::test]
async fn huge_and_hostile_payloads_round_trip() {
    let store = fresh_store().await;
    let _clear = ClearOnDrop(store.prefix().to_owned());
    let huge = "x".repeat(1 << 20);
    let hostile = json!({
        "$where": "sleep(1000)",
        "a.b": { "$gt": "" },
        "_id": null,
        "": "",
        "{remote}:job:x": [1, 2],
        "nul": "a\u{0}b",
        "unicode": "ünïcødé 🚀 \u{202e} 中文",
        "big": [u64::MAX, i64::MIN, 1e308, 5e-324, 0.1, -0.0],
        "deep": [[[[[[[[[[{"k": "v"}]]]]]]]]]],
    });
    let inputs = [
        json!(huge),
        hostile.clone(),
        json!("\u{0}"),
        json!(null),
        json!(u64::MAX),
    ];
    let job_names = ["echo", "{x}", "a:b", "ready:echo", "ü 🚀"];
    let jobs: Vec<Job> = inputs
        .iter()
        .zip(job_names)
        .enumerate()
        .map(|(n, (input, name))| {
            job(
                name,
                input.clone(),
                t0() + TimeDelta::milliseconds(n as i64),
            )
        })
        .collect();
    insert(&store, &jobs).await;
    for stored in &jobs {
        assert_eq!(
            store.get_job(&stored.id).await.unwrap().as_ref(),
            Some(stored)
        );
    }
    let now = t0() + TimeDelta::minutes(1);
    let claimed = claim(&store, &names(&job_names), now, 10).await;
    assert_eq!(claimed.len(), jobs.len());
    for (claimed, stored) in claimed.iter().zip(&jobs) {
        assert_eq!(claimed.id, stored.id, "pull order across names");
        assert_eq!(claimed.input, stored.input);
        assert_eq!(claimed.job_name, stored.job_name);
    }
    let message = format!("bad: \u{0} {} 🚀", "y".repeat(100_000));
    let outcomes: Vec<Outcome> = claimed
        .iter()
        .enumerate()
        .map(|(n, job)| Outcome {
            lease: lease(job),
            now,
            kind: if n == 1 {
                OutcomeKind::Failed {
                    record: ErrorRecord::new(1, message.clone(), now),
                }
            } else {
                OutcomeKind::Completed {
                    output: job.input.clone(),
                }
            },
        })
        .collect();
    assert!(store
        .record_outcomes(&outcomes)
        .await
        .unwrap()
        .iter()
        .all(|a| *a));
    for (n, stored) in jobs.iter().enumerate() {
        let read = store.get_job(&stored.id).await.unwrap().unwrap();
        if n == 1 {
            assert_eq!(read.status, JobStatus::Error);
            let errors = store.job_errors(&stored.id).await.unwrap().unwrap();
            assert_eq!(errors.len(), 1);
            assert_eq!(errors[0].message, message);
        } else {
            assert_eq!(read.output.as_ref(), Some(&stored.input));
        }
    }
    let by_name = JobQuery {
        job_name: Some("{x}".to_owned()),
        ..JobQuery::default()
    };
    let listed = store.list_jobs(&by_name).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].input, hostile);
}

/// Pull order merges the names asked: oldest `queued_at` first, then the smaller id, whatever
/// the name; a delayed job waits for its `not_before`; a job put in line by a claim whose clock
/// ran ahead goes back to waiting for a claim whose clock is behind.
#[tokio::test]
async fn claims_merge_names_in_pull_order() {
    let store = fresh_store().await;
    let _clear = ClearOnDrop(store.prefix().to_owned());
    let at = |ms: i64| t0() + TimeDelta::milliseconds(ms);
    let mut same_time = [job("a", json!("a5"), at(5)), job("b", json!("b5"), at(5))];
    same_time.sort_by(|x, y| x.id.cmp(&y.id));
    let mut later = job("a", json!("delayed"), at(100));
    later.not_before = Some(at(60_000));
    let jobs = vec![
        job("b", json!(3), at(3)),
        job("a", json!(4), at(4)),
        job("c", json!(0), at(0)),
        same_time[1].clone(),
        same_time[0].clone(),
        later.clone(),
        job("a", json!(9), at(9)),
    ];
    insert(&store, &jobs).await;

    let ahead = claim(&store, &names(&["a"]), at(120_000), 1).await;
    assert_eq!(ahead.len(), 1);
    assert_eq!(ahead[0].id, jobs[1].id, "the oldest job of the name first");

    let asked = names(&["a", "b", "a"]);
    let behind = claim(&store, &asked, at(1_000), 10).await;
    let ids: Vec<&JobId> = behind.iter().map(|j| &j.id).collect();
    assert_eq!(
        ids,
        vec![&jobs[0].id, &same_time[0].id, &same_time[1].id, &jobs[6].id],
        "queued_at then id across names; the delayed job is not due at this clock"
    );
    let delayed = claim(&store, &asked, at(60_000), 10).await;
    assert_eq!(delayed.len(), 1);
    assert_eq!(delayed[0].id, later.id);
    assert_eq!(
        store.get_job(&jobs[2].id).await.unwrap().unwrap().status,
        JobStatus::Queued,
        "name c was not asked"
    );
}

/// A claim reads each name's ready set a window of up to `limit` members (at most 100) at a
/// time: entries whose job is no longer queued are dropped, and the claim reads on past a
/// window of them to fill its limit, in order; a claim of more than 100 reads on the same way.
#[tokio::test]
async fn claims_read_past_entries_they_cannot_take() {
    let store = fresh_store().await;
    let _clear = ClearOnDrop(store.prefix().to_owned());
    let jobs: Vec<Job> = (0..6)
        .map(|n| job("a", json!(n), t0() + TimeDelta::milliseconds(n)))
        .collect();
    insert(&store, &jobs).await;
    let base = format!("{{{}}}", store.prefix());
    let mut connection = store.connection();
    for stale in &jobs[..3] {
        let _: i64 = redis::cmd("HSET")
            .arg(format!("{base}:job:{}", stale.id.as_str()))
            .arg("status")
            .arg("cancelled")
            .query_async(&mut connection)
            .await
            .expect("HSET");
    }
    let claimed = claim(&store, &names(&["a"]), t0() + TimeDelta::hours(1), 2).await;
    let ids: Vec<&JobId> = claimed.iter().map(|j| &j.id).collect();
    assert_eq!(
        ids,
        vec![&jobs[3].id, &jobs[4].id],
        "past two windows of entries it cannot take"
    );
    assert!(claimed
        .iter()
        .all(|j| j.attempt == 1 && j.status == JobStatus::Processing));
    let left: i64 = redis::cmd("ZCARD")
        .arg(format!("{base}:ready:a"))
        .query_async(&mut connection)
        .await
        .expect("ZCARD");
    assert_eq!(
        left, 1,
        "the entries it read past are gone; the last job waits"
    );

    let many: Vec<Job> = (0..250)
        .map(|n| job("b", json!(n), t0() + TimeDelta::milliseconds(n)))
        .collect();
    insert(&store, &many).await;
    let claimed = claim(&store, &names(&["b"]), t0() + TimeDelta::hours(1), 150).await;
    let ids: Vec<&JobId> = claimed.iter().map(|j| &j.id).collect();
    let oldest: Vec<&JobId> = many[..150].iter().map(|j| &j.id).collect();
    assert_eq!(ids, oldest, "150 jobs in pull order, over two windows");
}

/// Idle workers of one store wake when another store (another process) adds or releases a
/// job, through the store's channel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wakeups_reach_another_store() {
    let prefix = fresh_prefix();
    let _clear = ClearOnDrop(prefix.clone());
    let listener = open(&prefix).await;
    let adder = open(&prefix).await;
    let notify = listener.wakeups().expect("wakeups are on by default");
    let deadline = Duration::from_secs(5);

    let woken = notify.notified();
    tokio::pin!(woken);
    woken.as_mut().enable();
    insert(&adder, &[job("echo", json!(1), t0())]).await;
    tokio::time::timeout(deadline, woken)
        .await
        .expect("woken by an insert in another store");

    let claimed = claim(&adder, &names(&["echo"]), t0(), 1).await;
    // Drain the permit the insert left, so the next wait needs a new message.
    let _ = tokio::time::timeout(Duration::from_millis(200), notify.notified()).await;
    let woken = notify.notified();
    tokio::pin!(woken);
    woken.as_mut().enable();
    assert_eq!(
        adder.release_jobs(&[lease(&claimed[0])]).await.unwrap(),
        vec![true]
    );
    tokio::time::timeout(deadline, woken)
        .await
        .expect("woken by a release in another store");

    let quiet = RedisStore::connect_with(
        &server_url(),
        RedisOptions {
            prefix: prefix.clone(),
            wakeups: false,
            ..RedisOptions::default()
        },
    )
    .await
    .unwrap();
    assert!(quiet.wakeups().is_none());
}

/// Stores under different prefixes never see each other's jobs or items, and `clear` deletes
/// every key of its prefix and nothing else.
#[tokio::test]
async fn prefixes_are_independent_and_clear_leaves_no_key() {
    let one = fresh_store().await;
    let two = fresh_store().await;
    let _clear_one = ClearOnDrop(one.prefix().to_owned());
    let _clear_two = ClearOnDrop(two.prefix().to_owned());
    let now = t0() + TimeDelta::minutes(1);
    for store in [&one, &two] {
        let jobs: Vec<Job> = (0..5).map(|n| job("echo", json!(n), t0())).collect();
        insert(store, &jobs).await;
        let claimed = claim(store, &names(&["echo"]), now, 3).await;
        let record = ErrorRecord::new(1, "no", now);
        store
            .record_outcomes(&[
                Outcome {
                    lease: lease(&claimed[0]),
                    now,
                    kind: OutcomeKind::Completed { output: json!(1) },
                },
                Outcome {
                    lease: lease(&claimed[1]),
                    now,
                    kind: OutcomeKind::Retry {
                        record,
                        not_before: now + TimeDelta::seconds(5),
                    },
                },
            ])
            .await
            .unwrap();
        store
            .insert_item(&SchedulerItem::delay("echo", 5).with_next_call_time(now))
            .await
            .unwrap();
    }
    let all = JobQuery::default();
    let one_jobs = one.list_jobs(&all).await.unwrap();
    let two_jobs = two.list_jobs(&all).await.unwrap();
    assert_eq!(one_jobs.len(), 5);
    assert_eq!(two_jobs.len(), 5);
    for job in &one_jobs {
        assert_eq!(two.get_job(&job.id).await.unwrap(), None);
    }
    assert!(!keys_of(&one).await.is_empty());

    let two_keys = keys_of(&two).await;
    assert_eq!(one.clear().await.unwrap(), 5);
    assert_eq!(
        keys_of(&one).await,
        Vec::<String>::new(),
        "no key of the prefix is left"
    );
    assert_eq!(
        keys_of(&two).await,
        two_keys,
        "the other prefix is untouched"
    );
    assert!(one.list_jobs(&all).await.unwrap().is_empty());
    assert!(one.list_items().await.unwrap().is_empty());
    assert_eq!(two.list_jobs(&all).await.unwrap(), two_jobs);
}

/// R22: fields and keys the store did not write in the form it writes them — a status it does
/// not know, a time that is not one, JSON that does not parse, a key of the wrong type — are
/// store errors, never panics, and leave the other jobs readable.
#[tokio::test]
async fn stored_data_that_is_not_ours_is_a_store_error() {
    let store = fresh_store().await;
    let _clear = ClearOnDrop(store.prefix().to_owned());
    let jobs: Vec<Job> = (0..4).map(|n| job("echo", json!(n), t0())).collect();
    insert(&store, &jobs).await;
    let base = format!("{{{}}}", store.prefix());
    let mut conn = store.connection();
    let spoil = |id: &JobId, field: &str, value: &str| {
        redis::cmd("HSET")
            .arg(format!("{base}:job:{id}"))
            .arg(field)
            .arg(value)
            .clone()
    };
    for (job, (field, value)) in jobs.iter().zip([
        ("status", "lost"),
        ("not_before", "yesterday"),
        ("spec", "{not json"),
        ("attempt", "-3"),
    ]) {
        let _: () = spoil(&job.id, field, value)
            .query_async(&mut conn)
            .await
            .unwrap();
        let err = store.get_job(&job.id).await.unwrap_err();
        assert!(err.is_store(), "{field}: {err}");
        assert!(
            err.to_string().contains(field) || format!("{err:?}").contains(field),
            "{err}"
        );
    }
    assert!(store
        .list_jobs(&JobQuery::default())
        .await
        .unwrap_err()
        .is_store());

    let _: () = redis::cmd("SET")
        .arg(format!("{base}:errors:{}", jobs[0].id))
        .arg("not a list")
        .query_async(&mut conn)
        .await
        .unwrap();
    let _: () = redis::cmd("HSET")
        .arg(format!("{base}:job:{}", jobs[0].id))
        .arg("status")
        .arg("queued")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(store.job_errors(&jobs[0].id).await.unwrap_err().is_store());
    assert!(store.get_job(&jobs[0].id).await.unwrap().is_some());
}

/// Connecting where no server answers, or under a prefix that would break the hash tag, or
/// to keys of another layout version, is a typed error.
#[tokio::test]
async fn bad_connections_and_options_are_typed_errors() {
    let err = RedisStore::connect_with(
        "redis://127.0.0.1:1/",
        RedisOptions {
            connection_timeout: Duration::from_millis(500),
            ..RedisOptions::default()
        },
    )
    .await
    .unwrap_err();
    assert!(err.is_store(), "{err}");
    assert!(RedisStore::connect("not a url")
        .await
        .unwrap_err()
        .is_store());
    for prefix in ["", "a{b", "c}"] {
        let err = RedisStore::connect_with(
            &server_url(),
            RedisOptions {
                prefix: prefix.to_owned(),
                ..RedisOptions::default()
            },
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{prefix}: {err}");
    }

    let store = fresh_store().await;
    let _clear = ClearOnDrop(store.prefix().to_owned());
    let _: () = redis::cmd("SET")
        .arg(format!("{{{}}}:layout", store.prefix()))
        .arg("99")
        .query_async(&mut store.connection())
        .await
        .unwrap();
    let err = open_result(store.prefix()).await.unwrap_err();
    assert!(
        err.is_store() && err.to_string().contains("layout"),
        "{err}"
    );
    let _: () = redis::cmd("SET")
        .arg(format!("{{{}}}:layout", store.prefix()))
        .arg(remote_redis::LAYOUT_VERSION)
        .query_async(&mut store.connection())
        .await
        .unwrap();
}

async fn open_result(prefix: &str) -> remote_core::Result<RedisStore> {
    RedisStore::connect_with(
        &server_url(),
        RedisOptions {
            prefix: prefix.to_owned(),
            ..RedisOptions::default()
        },
    )
    .await
}

/// The store reports the durability the server's settings give, as read independently here.
#[tokio::test]
async fn durability_follows_the_server_settings() {
    let store = fresh_store().await;
    let _clear = ClearOnDrop(store.prefix().to_owned());
    let mut conn = store.connection();
    let get = |name: &str| redis::cmd("CONFIG").arg("GET").arg(name).clone();
    let appendonly: Vec<String> = get("appendonly").query_async(&mut conn).await.unwrap();
    let appendfsync: Vec<String> = get("appendfsync").query_async(&mut conn).await.unwrap();
    let expected = match (appendonly[1].as_str(), appendfsync[1].as_str()) {
        ("yes", "always") => Durability::Always,
        ("yes", "everysec") => Durability::EverySecond,
        ("yes", _) => Durability::OsFlush,
        _ => Durability::Snapshots,
    };
    assert_eq!(store.durability(), expected);
    assert_eq!(
        store.durability().keeps_acknowledged_changes(),
        expected == Durability::Always
    );
}

/// `remove_jobs` with a limit takes the oldest completions first across statuses, and with
/// `finished_before` only jobs that finished before it; jobs of other statuses stay.
#[tokio::test]
async fn removal_is_oldest_first_across_statuses() {
    let store = fresh_store().await;
    let _clear = ClearOnDrop(store.prefix().to_owned());
    let jobs: Vec<Job> = (0..6).map(|n| job("echo", json!(n), t0())).collect();
    insert(&store, &jobs).await;
    let claimed = claim(&store, &names(&["echo"]), t0(), 6).await;
    let outcomes: Vec<Outcome> = claimed
        .iter()
        .enumerate()
        .map(|(n, job)| {
            let now = t0() + TimeDelta::seconds(10 - n as i64);
            Outcome {
                lease: lease(job),
                now,
                kind: if n % 2 == 0 {
                    OutcomeKind::Completed { output: json!(n) }
                } else {
                    OutcomeKind::Failed {
                        record: ErrorRecord::new(1, "no", now),
                    }
                },
            }
        })
        .collect();
    store.record_outcomes(&outcomes).await.unwrap();
    // completed_at: job n at t0 + 10 - n s; the oldest are jobs 5 (error), 4 (completed), 3.
    let removed = store
        .remove_jobs(&RemoveJobs {
            statuses: &[JobStatus::Completed, JobStatus::Error],
            names: JobNames::All,
            finished_before: None,
            limit: Some(3),
        })
        .await
        .unwrap();
    assert_eq!(removed.get(&JobStatus::Error), Some(&2));
    assert_eq!(removed.get(&JobStatus::Completed), Some(&1));
    for (n, job) in claimed.iter().enumerate() {
        assert_eq!(
            store.get_job(&job.id).await.unwrap().is_some(),
            n < 3,
            "job {n}"
        );
    }
    let removed = store
        .remove_jobs(&RemoveJobs {
            statuses: &[JobStatus::Completed],
            names: JobNames::All,
            finished_before: Some(t0() + TimeDelta::seconds(10)),
            limit: None,
        })
        .await
        .unwrap();
    assert_eq!(
        removed.get(&JobStatus::Completed),
        Some(&1),
        "job 2 only; job 0 finished at 10 s"
    );
    assert!(matches!(
        store
            .remove_jobs(&RemoveJobs {
                statuses: &[JobStatus::Queued],
                names: JobNames::All,
                finished_before: None,
                limit: None,
            })
            .await,
        Err(Error::InvalidRemoveStatus(JobStatus::Queued))
    ));
    assert_eq!(
        store.job_errors(&claimed[5].id).await.unwrap(),
        None,
        "records go with their job"
    );
}
