//! What the conformance suite cannot see of priorities, unique keys, retries, paused names and
//! maintenance leases on Redis: a store of the previous layout upgraded in place at open, the
//! key-to-holder hash kept in step by every status change, retries of more jobs than one
//! script call takes, and `clear` removing the new keys too.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use common::{fresh_prefix, fresh_store, keys_of, open, ClearOnDrop};
use remote_core::{
    AcquireLeader, CancelJob, ClaimJobs, InsertJobs, Inserted, Job, JobId, JobNames, JobQuery,
    JobStatus, JobStore, Lease, LeaseToken, OnConflict, Outcome, OutcomeKind, PauseNames,
    RemoveJobs, RetryJobs, StatusSet,
};
use remote_memory::MemoryStore;
use remote_redis::{redis, RedisStore};
use serde_json::json;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

fn job(name: &str, n: usize, queued_at: DateTime<Utc>) -> Job {
    Job::queued(name, json!(n), 3, Duration::from_secs(10), queued_at)
}

fn ids(jobs: &[Job]) -> Vec<JobId> {
    jobs.iter().map(|j| j.id.clone()).collect()
}

async fn insert(store: &dyn JobStore, jobs: &[Job]) -> Vec<Inserted> {
    store
        .insert_jobs(&InsertJobs {
            jobs,
            on_conflict: OnConflict::Refuse,
        })
        .await
        .expect("insert jobs")
}

async fn claim(store: &dyn JobStore, name: &str, now: DateTime<Utc>, limit: usize) -> Vec<Job> {
    store
        .claim_jobs(&ClaimJobs {
            names: &[name.to_owned()],
            now,
            lease_until: now + TimeDelta::seconds(30),
            token: LeaseToken::from_i64(1),
            limit,
        })
        .await
        .expect("claim")
}

fn lease(job: &Job) -> Lease {
    Lease {
        id: job.id.clone(),
        token: job.lease_token.expect("claimed"),
    }
}

/// A member of the listing indexes as layout 1 wrote it (and its pull key too): `queued_at`
/// as 16 hex digits with the sign bit flipped, `:`, the id.
fn layout_1_key(job: &Job) -> String {
    let ms = job.queued_at.timestamp_millis() as u64;
    format!("{:016x}:{}", ms ^ (1 << 63), job.id)
}

/// Writes `jobs` (none with a priority, a unique key, a timeout or snoozes) under `prefix`
/// exactly as a store of layout 1 kept them: the hashes without the new fields, the pull keys
/// without a priority, the indexes of that layout (no removal index per name), the layout
/// version `1`.
async fn write_layout_1(prefix: &str, jobs: &[Job]) {
    let client = redis::Client::open(common::server_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let b = format!("{{{prefix}}}");
    for chunk in jobs.chunks(500) {
        let mut pipe = redis::pipe();
        for job in chunk {
            let key = layout_1_key(job);
            let name = &job.job_name;
            let status = job.status.as_str();
            let mut fields: Vec<(&str, String)> = vec![
                ("id", job.id.to_string()),
                ("job_name", name.clone()),
                ("input", job.input.to_string()),
                ("status", status.to_owned()),
                ("attempt", job.attempt.to_string()),
                ("max_attempts", job.max_attempts.to_string()),
                ("retry_delay_ms", job.retry_delay.as_millis().to_string()),
                ("queued_at", job.queued_at.timestamp_millis().to_string()),
                ("pull_key", key.clone()),
                ("list_key", key.clone()),
            ];
            let times = [
                ("not_before", job.not_before),
                ("picked_at", job.picked_at),
                ("completed_at", job.completed_at),
                ("lease_until", job.lease_until),
            ];
            for (field, time) in times {
                if let Some(t) = time {
                    fields.push((field, t.timestamp_millis().to_string()));
                }
            }
            if let Some(output) = &job.output {
                fields.push(("output", output.to_string()));
            }
            pipe.hset_multiple(format!("{b}:job:{}", job.id), &fields)
                .ignore();
            pipe.zadd(format!("{b}:jobs"), &key, 0).ignore();
            pipe.zadd(format!("{b}:name:{name}"), &key, 0).ignore();
            pipe.sadd(format!("{b}:names"), name).ignore();
            pipe.zadd(format!("{b}:status:{status}"), &key, 0).ignore();
            pipe.zadd(format!("{b}:by:{status}:{name}"), &key, 0)
                .ignore();
            match job.status {
                JobStatus::Queued => match job.not_before {
                    Some(t) => pipe
                        .zadd(
                            format!("{b}:delayed:{name}"),
                            job.id.as_str(),
                            t.timestamp_millis(),
                        )
                        .ignore(),
                    None => pipe.zadd(format!("{b}:ready:{name}"), &key, 0).ignore(),
                },
                JobStatus::Processing => pipe
                    .zadd(
                        format!("{b}:leases"),
                        job.id.as_str(),
                        job.lease_until.unwrap().timestamp_millis(),
                    )
                    .ignore(),
                _ => pipe
                    .zadd(
                        format!("{b}:done:{status}"),
                        job.id.as_str(),
                        job.completed_at.unwrap().timestamp_millis(),
                    )
                    .ignore(),
            };
        }
        let () = pipe.query_async(&mut conn).await.unwrap();
    }
    let () = redis::cmd("SET")
        .arg(format!("{b}:layout"))
        .arg("1")
        .query_async(&mut conn)
        .await
        .unwrap();
}

/// Opening a store of layout 1 upgrades it in place (more jobs than one upgrade call takes,
/// two stores opening at once): its jobs read back with the defaults of the new fields, take
/// their place in pull order beside new jobs with priorities, are removed by name and
/// retried, exactly as the in-memory reference store does with the same jobs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_of_layout_1_is_upgraded_at_open() {
    let prefix = fresh_prefix();
    let _clear = ClearOnDrop(prefix.clone());
    let old: Vec<Job> = (0..2_500)
        .map(|n| {
            let name = ["a", "b"][n % 2];
            let mut job = job(name, n, t0() + TimeDelta::milliseconds((n / 3) as i64));
            match n % 10 {
                0 => job.not_before = Some(t0() + TimeDelta::seconds(30)),
                1 | 2 => {
                    job.status = JobStatus::Completed;
                    job.attempt = 1;
                    job.picked_at = Some(t0());
                    job.completed_at = Some(t0() + TimeDelta::milliseconds(n as i64));
                    job.output = Some(json!({"n": n}));
                }
                3 => {
                    job.status = JobStatus::Error;
                    job.attempt = 3;
                    job.completed_at = Some(t0() + TimeDelta::milliseconds(n as i64));
                }
                _ => {}
            }
            job
        })
        .collect();
    write_layout_1(&prefix, &old).await;
    let memory = MemoryStore::new();
    insert(&memory, &old).await;

    let (one, two) = tokio::join!(open(&prefix), open(&prefix));
    drop(two);
    assert_current_layout(&one).await;
    assert_no_index_across_names(&one).await;
    for job in old.iter().step_by(97) {
        assert_eq!(one.get_job(&job.id).await.unwrap().as_ref(), Some(job));
    }
    let all = JobQuery {
        oldest_first: true,
        ..JobQuery::default()
    };
    assert_eq!(
        one.list_jobs(&all).await.unwrap(),
        memory.list_jobs(&all).await.unwrap()
    );

    let new: Vec<Job> = [(1, 900), (-1, 10), (0, 400), (5, 2_000)]
        .into_iter()
        .map(|(priority, ms)| Job {
            priority,
            ..job("a", 0, t0() + TimeDelta::milliseconds(ms))
        })
        .collect();
    insert(&one, &new).await;
    insert(&memory, &new).await;
    let now = t0() + TimeDelta::minutes(1);
    let from_redis = claim(&one, "a", now, 2_000).await;
    assert_eq!(
        ids(&from_redis),
        ids(&claim(&memory, "a", now, 2_000).await)
    );
    assert_eq!(from_redis[0].id, new[3].id, "the highest priority first");
    assert_eq!(from_redis.last().unwrap().id, new[1].id, "the lowest last");
    assert_eq!(
        from_redis.len(),
        1_000 + 4,
        "queued and delayed jobs of a, and the new"
    );

    let only_b = ["b".to_owned()];
    for (names, statuses) in [
        (JobNames::Only(&only_b), &[JobStatus::Completed][..]),
        (
            JobNames::Except(&only_b),
            &[JobStatus::Completed, JobStatus::Error][..],
        ),
    ] {
        let remove = RemoveJobs {
            statuses,
            names,
            finished_before: Some(t0() + TimeDelta::seconds(2)),
            limit: Some(300),
        };
        let removed = one.remove_jobs(&remove).await.unwrap();
        assert_eq!(removed, memory.remove_jobs(&remove).await.unwrap());
        // Of each name, the completed jobs that finished within the first 2 s.
        assert_eq!(removed.values().sum::<u64>(), 200, "{removed:?}");
    }
    let retry = RetryJobs {
        ids: None,
        statuses: &[JobStatus::Error],
        names: JobNames::Only(&only_b),
        now,
    };
    let retried = one.retry_jobs(&retry).await.unwrap();
    assert_eq!(retried, memory.retry_jobs(&retry).await.unwrap());
    assert_eq!(retried.get(&JobStatus::Error), Some(&250));
    let later = now + TimeDelta::minutes(1);
    assert_eq!(
        ids(&claim(&one, "b", later, 5_000).await),
        ids(&claim(&memory, "b", later, 5_000).await)
    );
    assert_eq!(
        one.count_jobs().await.unwrap(),
        memory.count_jobs().await.unwrap()
    );
}

/// No key holds the status or removal index of every name, as layouts 1 and 2 did.
async fn assert_no_index_across_names(store: &RedisStore) {
    let base = format!("{{{}}}", store.prefix());
    for key in keys_of(store).await {
        let tail = key.strip_prefix(&base).unwrap_or(&key);
        let across = tail.starts_with(":status:")
            || (tail.starts_with(":done:") && tail.matches(':').count() == 2);
        assert!(!across, "{key} is left from an earlier layout");
    }
}

/// The store's keys are of this build's layout.
async fn assert_current_layout(store: &RedisStore) {
    let layout: String = redis::cmd("GET")
        .arg(format!("{{{}}}:layout", store.prefix()))
        .query_async(&mut store.connection())
        .await
        .unwrap();
    assert_eq!(layout, remote_redis::LAYOUT_VERSION);
}

/// `n` jobs queued a millisecond apart, named `a` and `b` in turn.
fn of_two_names(n: usize) -> Vec<Job> {
    (0..n)
        .map(|k| {
            job(
                ["a", "b"][k % 2],
                k,
                t0() + TimeDelta::milliseconds(k as i64),
            )
        })
        .collect()
}

/// Opening a store of layout 2 drops its status and removal indexes across names, and the
/// store then counts, lists, removes and claims as before from the indexes per name.
#[tokio::test]
async fn a_store_of_layout_2_drops_its_indexes_across_names_at_open() {
    let store = fresh_store().await;
    let prefix = store.prefix().to_owned();
    let _clear = ClearOnDrop(prefix.clone());
    let jobs = of_two_names(40);
    insert(&store, &jobs).await;
    let now = t0() + TimeDelta::minutes(1);
    complete(&store, &claim(&store, "a", now, 6).await, now).await;
    let counts = store.count_jobs().await.unwrap();
    let all = JobQuery {
        oldest_first: true,
        ..JobQuery::default()
    };
    let queued = JobQuery {
        statuses: vec![JobStatus::Queued],
        ..all.clone()
    };
    let listed = store.list_jobs(&queued).await.unwrap();

    // What layout 2 kept besides: an index per status and per final status of every name.
    let b = format!("{{{prefix}}}");
    let mut conn = store.connection();
    let mut pipe = redis::pipe();
    for job in store.list_jobs(&all).await.unwrap() {
        let status = job.status.as_str();
        pipe.zadd(format!("{b}:status:{status}"), job.id.as_str(), 0)
            .ignore();
        if job.status == JobStatus::Completed {
            pipe.zadd(format!("{b}:done:{status}"), job.id.as_str(), 0)
                .ignore();
        }
    }
    pipe.set(format!("{b}:layout"), "2").ignore();
    let () = pipe.query_async(&mut conn).await.unwrap();
    drop(store);

    let store = open(&prefix).await;
    assert_current_layout(&store).await;
    assert_no_index_across_names(&store).await;
    assert_eq!(store.count_jobs().await.unwrap(), counts);
    assert_eq!(store.list_jobs(&queued).await.unwrap(), listed);
    let removed = remove_finished(&store).await;
    assert_eq!(removed.get(&JobStatus::Completed), Some(&6));
    assert_eq!(claim(&store, "b", now, 100).await.len(), 20);
}

/// A job's member in the listing indexes: `queued_at` in milliseconds (sign bit flipped) as 16
/// hex digits, then the id.
fn listing_key(job: &Job) -> String {
    let ms = job.queued_at.timestamp_millis() as u64;
    format!("{:016x}:{}", ms ^ (1 << 63), job.id)
}

/// Opening a store of layout 3 drops its status index of processing jobs, puts a processing
/// job without a lease in the lease index, and the store then counts and lists processing
/// jobs as before, from the lease index.
#[tokio::test]
async fn a_store_of_layout_3_lists_processing_jobs_from_the_lease_index_after_open() {
    let store = fresh_store().await;
    let prefix = store.prefix().to_owned();
    let _clear = ClearOnDrop(prefix.clone());
    let jobs = of_two_names(20);
    insert(&store, &jobs).await;
    let leaseless = Job {
        status: JobStatus::Processing,
        ..job("b", 99, t0() - TimeDelta::seconds(1))
    };
    insert(&store, std::slice::from_ref(&leaseless)).await;
    let now = t0() + TimeDelta::minutes(1);
    let claimed_a = claim(&store, "a", now, 3).await;
    claim(&store, "b", now, 2).await;
    let processing = JobQuery {
        statuses: vec![JobStatus::Processing],
        oldest_first: true,
        ..JobQuery::default()
    };
    let of_b = JobQuery {
        job_name: Some("b".into()),
        ..processing.clone()
    };
    let newest_two = JobQuery {
        oldest_first: false,
        limit: Some(2),
        ..processing.clone()
    };
    let counts = store.count_jobs().await.unwrap();
    assert_eq!(counts.get(&JobStatus::Processing), Some(&6));
    let listed = store.list_jobs(&processing).await.unwrap();
    assert_eq!(listed.len(), 6);
    assert_eq!(
        listed[0].id, leaseless.id,
        "listing order is queued_at, then id"
    );
    let listed_b = store.list_jobs(&of_b).await.unwrap();
    assert_eq!(listed_b.len(), 3);
    let listed_newest = store.list_jobs(&newest_two).await.unwrap();
    assert_eq!(
        ids(&listed_newest),
        ids(&listed[4..]).into_iter().rev().collect::<Vec<_>>()
    );

    // What layout 3 kept instead: a status index of processing jobs per name, and no lease
    // index entry for a processing job without a lease.
    let b = format!("{{{prefix}}}");
    let mut conn = store.connection();
    let mut pipe = redis::pipe();
    for job in &listed {
        pipe.zadd(
            format!("{b}:by:processing:{}", job.job_name),
            listing_key(job),
            0,
        )
        .ignore();
    }
    pipe.zrem(format!("{b}:leases"), leaseless.id.as_str())
        .ignore();
    pipe.set(format!("{b}:layout"), "3").ignore();
    let () = pipe.query_async(&mut conn).await.unwrap();
    drop(store);

    let store = open(&prefix).await;
    assert_current_layout(&store).await;
    for key in keys_of(&store).await {
        assert!(
            !key.contains(":by:processing:"),
            "{key} is left from layout 3"
        );
    }
    let score: String = redis::cmd("ZSCORE")
        .arg(format!("{b}:leases"))
        .arg(leaseless.id.as_str())
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(score, "inf");
    assert_eq!(store.count_jobs().await.unwrap(), counts);
    assert_eq!(store.list_jobs(&processing).await.unwrap(), listed);
    assert_eq!(store.list_jobs(&of_b).await.unwrap(), listed_b);
    assert_eq!(store.list_jobs(&newest_two).await.unwrap(), listed_newest);
    complete(&store, &claimed_a, now).await;
    let counts = store.count_jobs().await.unwrap();
    assert_eq!(counts.get(&JobStatus::Processing), Some(&3));
    assert_eq!(counts.get(&JobStatus::Completed), Some(&3));
    let completed = store.list_jobs(&processing).await.unwrap();
    assert!(completed.iter().all(|j| j.job_name == "b"));
}

/// Completes claimed `jobs` at `now`.
async fn complete(store: &RedisStore, jobs: &[Job], now: DateTime<Utc>) {
    let outcomes: Vec<Outcome> = jobs
        .iter()
        .map(|j| Outcome {
            lease: lease(j),
            now,
            kind: OutcomeKind::Completed { output: json!(1) },
        })
        .collect();
    let recorded = store.record_outcomes(&outcomes).await.unwrap();
    assert!(recorded.iter().all(|r| *r), "every claimed job completes");
}

/// Removes every finished job of every name.
async fn remove_finished(store: &RedisStore) -> remote_core::StatusCounts {
    store
        .remove_jobs(&RemoveJobs {
            statuses: &JobStatus::REMOVABLE,
            names: JobNames::All,
            finished_before: None,
            limit: None,
        })
        .await
        .unwrap()
}

/// The holders of unique keys as stored in `{p}:uniq`.
async fn holders(store: &RedisStore) -> HashMap<String, String> {
    redis::cmd("HGETALL")
        .arg(format!("{{{}}}:uniq", store.prefix()))
        .query_async(&mut store.connection())
        .await
        .unwrap()
}

fn keyed(n: usize, key: &str, across: StatusSet) -> Job {
    Job {
        unique_key: Some(key.to_owned()),
        unique_across: across,
        ..job("echo", n, t0() + TimeDelta::milliseconds(n as i64))
    }
}

/// `{p}:uniq` names, for each key, the job that holds it, through claims, every outcome,
/// releases, cancels, retries and removals, and nothing once no job holds a key.
#[tokio::test]
async fn the_holder_hash_follows_every_status_change() {
    let store = fresh_store().await;
    let _clear = ClearOnDrop(store.prefix().to_owned());
    let kept = StatusSet::of(&[
        JobStatus::Queued,
        JobStatus::Processing,
        JobStatus::Completed,
    ]);
    let jobs = vec![
        keyed(0, "done", StatusSet::LIVE),
        keyed(1, "kept", kept),
        keyed(2, "failed", StatusSet::LIVE),
        keyed(3, "snoozed", StatusSet::LIVE),
        keyed(4, "released", StatusSet::LIVE),
        keyed(5, "cancelled", StatusSet::LIVE),
        keyed(6, "queued-only", StatusSet::of(&[JobStatus::Queued])),
    ];
    insert(&store, &jobs).await;
    let held = |pairs: &[(&str, usize)]| -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, n)| ((*k).to_owned(), jobs[*n].id.to_string()))
            .collect()
    };
    let every = [
        ("done", 0),
        ("kept", 1),
        ("failed", 2),
        ("snoozed", 3),
        ("released", 4),
        ("cancelled", 5),
        ("queued-only", 6),
    ];
    assert_eq!(holders(&store).await, held(&every));

    let now = t0() + TimeDelta::minutes(1);
    let claimed = claim(&store, "echo", now, 7).await;
    assert_eq!(ids(&claimed), ids(&jobs));
    assert_eq!(holders(&store).await, held(&every[..6]), "processing");

    let outcome = |n: usize, kind: OutcomeKind| Outcome {
        lease: lease(&claimed[n]),
        now,
        kind,
    };
    let record = remote_core::ErrorRecord::new(1, "no", now);
    let applied = store
        .record_outcomes(&[
            outcome(0, OutcomeKind::Completed { output: json!(0) }),
            outcome(1, OutcomeKind::Completed { output: json!(1) }),
            outcome(2, OutcomeKind::Failed { record }),
            outcome(
                3,
                OutcomeKind::Snooze {
                    not_before: now + TimeDelta::seconds(5),
                },
            ),
            outcome(6, OutcomeKind::Completed { output: json!(6) }),
        ])
        .await
        .unwrap();
    assert_eq!(applied, vec![true; 5]);
    store.release_jobs(&[lease(&claimed[4])]).await.unwrap();
    store
        .cancel_job(&CancelJob {
            id: &jobs[5].id,
            cancellable: &[JobStatus::Processing],
            now,
        })
        .await
        .unwrap();
    assert_eq!(
        holders(&store).await,
        held(&[("kept", 1), ("snoozed", 3), ("released", 4)])
    );

    let again = insert(
        &store,
        &[
            keyed(10, "done", StatusSet::LIVE),
            keyed(11, "kept", StatusSet::LIVE),
        ],
    )
    .await;
    assert_eq!(
        again,
        vec![Inserted::Stored, Inserted::Duplicate(jobs[1].id.clone())]
    );
    let retried = store
        .retry_jobs(&RetryJobs {
            ids: None,
            statuses: &[JobStatus::Error, JobStatus::Cancelled],
            names: JobNames::All,
            now,
        })
        .await
        .unwrap();
    assert_eq!(retried.values().sum::<u64>(), 2, "{retried:?}");
    let mut expected = held(&[
        ("kept", 1),
        ("snoozed", 3),
        ("released", 4),
        ("failed", 2),
        ("cancelled", 5),
    ]);
    let newer = store
        .list_jobs(&JobQuery::default())
        .await
        .unwrap()
        .into_iter()
        .find(|j| j.input == json!(10))
        .unwrap();
    expected.insert("done".into(), newer.id.to_string());
    assert_eq!(holders(&store).await, expected);

    let removed = remove_finished(&store).await;
    assert_eq!(removed.values().sum::<u64>(), 3, "{removed:?}");
    expected.remove("kept");
    assert_eq!(
        holders(&store).await,
        expected,
        "a removed job holds nothing"
    );
}

/// A retry by status reads its index in batches after the last member read: with more dead
/// jobs than one call takes, and some whose key another job holds (left dead), every other
/// one is retried once.
#[tokio::test]
async fn retries_by_status_cover_more_jobs_than_one_call() {
    let store = fresh_store().await;
    let _clear = ClearOnDrop(store.prefix().to_owned());
    let dead: Vec<Job> = (0..2_300)
        .map(|n| {
            let mut job = job(["a", "b"][n % 2], n, t0());
            job.status = JobStatus::Error;
            job.completed_at = Some(t0());
            if [7, 500, 1_001, 1_600, 2_201].contains(&n) {
                job.unique_key = Some(format!("k{n}"));
            }
            job
        })
        .collect();
    let holders: Vec<Job> = dead
        .iter()
        .filter_map(|j| j.unique_key.as_deref())
        .enumerate()
        .map(|(i, key)| keyed(10_000 + i, key, StatusSet::LIVE))
        .collect();
    assert_eq!(holders.len(), 5);
    insert(&store, &dead).await;
    insert(&store, &holders).await;
    let only_a = ["a".to_owned()];
    let retry = |names| RetryJobs {
        ids: None,
        statuses: &[JobStatus::Error],
        names,
        now: t0(),
    };
    let retried = store
        .retry_jobs(&retry(JobNames::Only(&only_a)))
        .await
        .unwrap();
    assert_eq!(retried.get(&JobStatus::Error), Some(&(1_150 - 2)));
    let retried = store.retry_jobs(&retry(JobNames::All)).await.unwrap();
    assert_eq!(retried.get(&JobStatus::Error), Some(&(1_150 - 3)));
    let counts = store.count_jobs().await.unwrap();
    assert_eq!(counts.get(&JobStatus::Error), Some(&5));
    assert_eq!(counts.get(&JobStatus::Queued), Some(&(2_295 + 5)));
    let ids: Vec<JobId> = dead.iter().map(|j| j.id.clone()).collect();
    let by_id = store
        .retry_jobs(&RetryJobs {
            ids: Some(&ids),
            ..retry(JobNames::All)
        })
        .await
        .unwrap();
    assert!(by_id.is_empty(), "the held ones stay dead: {by_id:?}");
}

/// `clear` removes the keys of unique holders, paused names and maintenance leases with the
/// rest, and removing every job leaves no removal index behind.
#[tokio::test]
async fn clear_and_removal_leave_no_key_of_the_new_features() {
    let store = fresh_store().await;
    let _clear = ClearOnDrop(store.prefix().to_owned());
    let kept = StatusSet::of(&[JobStatus::Completed]);
    insert(
        &store,
        &[keyed(0, "k", StatusSet::LIVE), keyed(1, "j", kept)],
    )
    .await;
    let now = t0() + TimeDelta::minutes(1);
    complete(&store, &claim(&store, "echo", now, 2).await, now).await;
    let keys = keys_of(&store).await;
    let base = format!("{{{}}}", store.prefix());
    for key in ["uniq", "done:completed:echo"] {
        assert!(keys.contains(&format!("{base}:{key}")), "{key}: {keys:?}");
    }
    store
        .remove_jobs(&RemoveJobs {
            statuses: &JobStatus::REMOVABLE,
            names: JobNames::Only(&["echo".to_owned()]),
            finished_before: None,
            limit: None,
        })
        .await
        .unwrap();
    let keys = keys_of(&store).await;
    assert!(
        !keys
            .iter()
            .any(|k| k.contains(":done:") || k.ends_with(":uniq")),
        "{keys:?}"
    );
    store
        .pause_names(&PauseNames {
            names: &["echo".to_owned()],
            paused: true,
            now,
        })
        .await
        .unwrap();
    assert!(store
        .acquire_leader(&AcquireLeader {
            name: "prune",
            holder: "me",
            until: now,
            now,
            note: Some(&json!({"ran": true})),
        })
        .await
        .unwrap());
    insert(&store, &[keyed(2, "q", StatusSet::LIVE)]).await;
    assert_eq!(store.clear().await.unwrap(), 1);
    assert_eq!(keys_of(&store).await, Vec::<String>::new());
}

/// A job's hash as layout 4 wrote it: every field of its own, no `spec`; its ordering keys as
/// the store wrote them.
fn layout_4_fields(job: &Job, list_key: &str, pull_key: &str) -> Vec<(&'static str, String)> {
    let ms = |t: DateTime<Utc>| t.timestamp_millis().to_string();
    let mut fields = vec![
        ("status", job.status.as_str().to_owned()),
        ("job_name", job.job_name.clone()),
        ("list_key", list_key.to_owned()),
        ("attempt", job.attempt.to_string()),
        ("pull_key", pull_key.to_owned()),
        ("id", job.id.to_string()),
        ("input", job.input.to_string()),
        ("max_attempts", job.max_attempts.to_string()),
        ("retry_delay_ms", job.retry_delay.as_millis().to_string()),
        ("queued_at", ms(job.queued_at)),
    ];
    if let Some(output) = &job.output {
        fields.push(("output", output.to_string()));
    }
    for (field, time) in [
        ("not_before", job.not_before),
        ("picked_at", job.picked_at),
        ("completed_at", job.completed_at),
        ("lease_until", job.lease_until),
    ] {
        fields.extend(time.map(|t| (field, ms(t))));
    }
    fields.extend(
        job.lease_token
            .map(|t| ("lease_token", t.as_i64().to_string())),
    );
    fields.push(("priority", job.priority.to_string()));
    fields.push(("unique_across", job.unique_across.bits().to_string()));
    fields.push(("snoozes", job.snoozes.to_string()));
    fields.extend(job.unique_key.clone().map(|k| ("unique_key", k)));
    fields.extend(job.timeout.map(|t| ("timeout", t.as_millis().to_string())));
    fields.extend(job.trace_context.clone().map(|c| ("trace_context", c)));
    fields
}

/// Opening a store of layout 4, whose hashes keep every field of their own, changes nothing
/// stored: those jobs read as before, claims take them in pull order beside jobs added after
/// (each reading an old hash back whole), and they complete.
#[tokio::test]
async fn a_store_of_layout_4_reads_and_claims_its_jobs_after_open() {
    let store = fresh_store().await;
    let prefix = store.prefix().to_owned();
    let _clear = ClearOnDrop(prefix.clone());
    let mut jobs = of_two_names(12);
    // Names alternate: even indexes are `a`, odd ones `b`.
    jobs[4].priority = 7;
    jobs[2].unique_key = Some("only-one".into());
    jobs[2].unique_across = StatusSet::from_bits(1 | 2 | 4);
    jobs[5].timeout = Some(Duration::from_millis(1_500));
    jobs[3].trace_context = Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into());
    jobs[8].input = json!({"$where": "1e400", "n": [1.5, -0.0, 18446744073709551615u64]});
    jobs[6].not_before = Some(t0() - TimeDelta::seconds(5));
    insert(&store, &jobs).await;
    let now = t0() + TimeDelta::minutes(1);
    let first = claim(&store, "a", now, 2).await;
    assert_eq!(ids(&first), [jobs[4].id.clone(), jobs[0].id.clone()]);

    // Every hash rewritten as layout 4 wrote it.
    let b = format!("{{{prefix}}}");
    let mut conn = store.connection();
    let all = JobQuery {
        oldest_first: true,
        ..JobQuery::default()
    };
    let before = store.list_jobs(&all).await.unwrap();
    assert_eq!(before.len(), jobs.len());
    for job in &before {
        let key = format!("{b}:job:{}", job.id);
        let (list_key, pull_key): (String, String) = redis::cmd("HMGET")
            .arg(&key)
            .arg("list_key")
            .arg("pull_key")
            .query_async(&mut conn)
            .await
            .unwrap();
        let mut pipe = redis::pipe();
        pipe.del(&key).ignore();
        pipe.hset_multiple(&key, &layout_4_fields(job, &list_key, &pull_key))
            .ignore();
        let () = pipe.query_async(&mut conn).await.unwrap();
        let spec: Option<String> = redis::cmd("HGET")
            .arg(&key)
            .arg("spec")
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(spec, None);
    }
    let () = redis::cmd("SET")
        .arg(format!("{b}:layout"))
        .arg("4")
        .query_async(&mut conn)
        .await
        .unwrap();
    drop(store);

    let store = open(&prefix).await;
    assert_current_layout(&store).await;
    assert_eq!(store.list_jobs(&all).await.unwrap(), before);
    for job in &before {
        assert_eq!(store.get_job(&job.id).await.unwrap().as_ref(), Some(job));
    }
    let later: Vec<Job> = (20..24)
        .map(|n| job("a", n, t0() + TimeDelta::seconds(1)))
        .collect();
    insert(&store, &later).await;

    // The rest of `a`'s jobs, old and new, in pull order.
    let claimed = claim(&store, "a", now, 100).await;
    let expected: Vec<JobId> = [2, 6, 8, 10]
        .iter()
        .map(|&k| jobs[k].id.clone())
        .chain(ids(&later))
        .collect();
    assert_eq!(ids(&claimed), expected);
    for job in &claimed {
        assert_eq!(
            store.get_job(&job.id).await.unwrap().as_ref(),
            Some(job),
            "a claimed job is returned as stored"
        );
    }
    assert_eq!(claimed[0].unique_key.as_deref(), Some("only-one"));
    assert_eq!(claimed[0].unique_across, jobs[2].unique_across);
    assert_eq!(claimed[1].not_before, jobs[6].not_before);
    assert_eq!(claimed[2].input, jobs[8].input);
    complete(&store, &claimed, now).await;
    let counts = store.count_jobs().await.unwrap();
    assert_eq!(
        counts.get(&JobStatus::Completed).copied(),
        Some(claimed.len() as u64)
    );
    let claimed_b = claim(&store, "b", now, 100).await;
    assert_eq!(
        ids(&claimed_b),
        [1, 3, 5, 7, 9, 11]
            .iter()
            .map(|&k| jobs[k].id.clone())
            .collect::<Vec<_>>()
    );
    assert_eq!(claimed_b[1].trace_context, jobs[3].trace_context);
    assert_eq!(claimed_b[2].timeout, jobs[5].timeout);
}
