//! What the store asks of the server, as `MONITOR` shows it: the commands a claim's script runs
//! are the same with 1,000 jobs queued as with 100,000 (and 20,000 of a name not asked), each a
//! sorted-set or hash operation on one member; each batch call is one script call, whose
//! index writes are one command per index whatever the batch's size. These
//! count commands, they do not time them: latency figures come from
//! `examples/claim_latency.rs`, run by hand.

mod common;

use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use common::{fresh_store, server_url, ClearOnDrop};
use futures::StreamExt;
use remote_core::{
    ClaimJobs, InsertJobs, Job, JobStore, Lease, LeaseToken, OnConflict, Outcome, OutcomeKind,
    RenewLeases,
};
use remote_redis::{redis, RedisStore};
use serde_json::json;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

/// Queues jobs `from..to` of `name`, job n at `t0 + n ms`.
async fn fill(store: &RedisStore, name: &str, from: i64, to: i64) {
    let mut n = from;
    while n < to {
        let end = (n + 2_000).min(to);
        let jobs: Vec<Job> = (n..end)
            .map(|k| {
                Job::queued(
                    name,
                    json!(k),
                    3,
                    Duration::from_secs(10),
                    t0() + TimeDelta::milliseconds(k),
                )
            })
            .collect();
        store
            .insert_jobs(&InsertJobs {
                jobs: &jobs,
                on_conflict: OnConflict::Refuse,
            })
            .await
            .expect("fill");
        n = end;
    }
}

/// The command on a `MONITOR` line that names the store's keys: whether a script ran it, and
/// its name.
fn command(line: &str, base: &str) -> Option<(bool, String)> {
    if !line.contains(base) {
        return None;
    }
    let rest = &line[line.find("] \"")? + 3..];
    let name = rest[..rest.find('"')?].to_ascii_uppercase();
    Some((line.contains(" lua] "), name))
}

/// Runs `action` while `MONITOR` watches the server; returns the commands on the store's keys
/// in the order the server ran them, with the action's result.
async fn watch<T>(
    store: &RedisStore,
    action: impl std::future::Future<Output = T>,
) -> (Vec<(bool, String)>, T) {
    let base = format!("{{{}}}", store.prefix());
    let client = redis::Client::open(server_url()).expect("URL");
    let monitor = client.get_async_monitor().await.expect("MONITOR");
    let mut lines = monitor.into_on_message::<String>();
    let result = action.await;
    let marker = format!("{base}:marker-{:016x}", rand::random::<u64>());
    let _: String = redis::cmd("ECHO")
        .arg(&marker)
        .query_async(&mut store.connection())
        .await
        .expect("ECHO");
    let mut commands = Vec::new();
    let read = async {
        while let Some(line) = lines.next().await {
            if line.contains(&marker) {
                return;
            }
            commands.extend(command(&line, &base));
        }
        panic!("MONITOR ended before the marker");
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("the marker shows on MONITOR");
    (commands, result)
}

/// Claims one job and returns the commands its script ran, in order, the commands sent
/// outside the script, and the job's input.
async fn commands_of_one_claim(store: &RedisStore) -> (Vec<String>, Vec<String>, i64) {
    let names = vec!["echo".to_owned(), "absent".to_owned()];
    let now = t0() + TimeDelta::hours(1);
    let (commands, claimed) = watch(
        store,
        store.claim_jobs(&ClaimJobs {
            names: &names,
            now,
            lease_until: now + TimeDelta::seconds(30),
            token: LeaseToken::random(),
            limit: 1,
        }),
    )
    .await;
    let claimed = claimed.expect("claim");
    assert_eq!(claimed.len(), 1);
    let (in_script, outside): (Vec<_>, Vec<_>) = commands.into_iter().partition(|(s, _)| *s);
    let names = |commands: Vec<(bool, String)>| commands.into_iter().map(|(_, n)| n).collect();
    (
        names(in_script),
        names(outside),
        claimed[0].input.as_i64().expect("input n"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_commands_do_not_grow_with_the_queue() {
    let store = fresh_store().await;
    let _clear = ClearOnDrop(store.prefix().to_owned());
    fill(&store, "echo", 0, 1_000).await;
    let (small, outside, first) = commands_of_one_claim(&store).await;
    assert_eq!(
        outside,
        ["EVALSHA"],
        "one script call, whose reply holds the claimed job"
    );
    assert_eq!(first, 0, "the oldest job first");

    fill(&store, "echo", 1_000, 100_000).await;
    fill(&store, "other", -20_000, 0).await;
    let (large, _, second) = commands_of_one_claim(&store).await;
    assert_eq!(
        second, 1,
        "the oldest job left first, whatever other names hold"
    );

    assert_eq!(
        small, large,
        "the same commands at 1,000 and at 100,000 queued"
    );
    for taken in ["ZREM", "HSET", "HMGET"] {
        assert!(
            small.iter().any(|c| c == taken),
            "MONITOR shows the claim's {taken}: {small:?}"
        );
    }
    // `ZREMRANGEBYLEX` drops the ready set's members up to the last one the claim read.
    let allowed = [
        "ZRANGEBYSCORE",
        "ZRANGEBYLEX",
        "ZREMRANGEBYLEX",
        "ZREM",
        "ZADD",
        "HMGET",
        "HSET",
    ];
    assert!(
        small.iter().all(|c| allowed.contains(&c.as_str())),
        "only point operations on sorted sets and hashes: {small:?}"
    );
    assert!(
        small.len() <= 20,
        "a handful of commands per claimed job: {small:?}"
    );
}

/// Each batch is one script call: inserting, claiming, renewing, recording outcomes and
/// releasing 50 jobs are each one `EVALSHA` (the scripts were loaded by a first round); a
/// claim then reads the claimed jobs' hashes back in one pipeline. Inside the scripts, each
/// job costs only commands on its own hash (and its error list); the indexes a batch moves it
/// through take one command each for the whole batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_batch_is_one_script_call() {
    let store = fresh_store().await;
    let _clear = ClearOnDrop(store.prefix().to_owned());
    let names = vec!["echo".to_owned()];
    let now = t0() + TimeDelta::hours(1);
    for round in 0..2 {
        let jobs: Vec<Job> = (0..50)
            .map(|k| Job::queued("echo", json!(k), 3, Duration::from_secs(10), t0()))
            .collect();
        let calls = |commands: Vec<(bool, String)>| -> Vec<String> {
            commands
                .into_iter()
                .filter_map(|(script, name)| (!script).then_some(name))
                .collect()
        };
        let one = vec!["EVALSHA".to_owned()];
        let index_writes = |commands: &[(bool, String)]| -> usize {
            let per_job = [
                "HGETALL", "HSET", "HMGET", "HGET", "HDEL", "EXISTS", "RPUSH",
            ];
            commands
                .iter()
                .filter(|(script, name)| *script && !per_job.contains(&name.as_str()))
                .count()
        };
        let (commands, inserted) = watch(
            &store,
            store.insert_jobs(&InsertJobs {
                jobs: &jobs,
                on_conflict: OnConflict::Refuse,
            }),
        )
        .await;
        assert_eq!(inserted.unwrap().len(), 50);
        let (commands_claim, claimed) = watch(
            &store,
            store.claim_jobs(&ClaimJobs {
                names: &names,
                now,
                lease_until: now + TimeDelta::seconds(30),
                token: LeaseToken::random(),
                limit: 50,
            }),
        )
        .await;
        let claimed = claimed.unwrap();
        assert_eq!(claimed.len(), 50);
        let leases: Vec<Lease> = claimed
            .iter()
            .map(|j| Lease {
                id: j.id.clone(),
                token: j.lease_token.unwrap(),
            })
            .collect();
        let (commands_renew, renewed) = watch(
            &store,
            store.renew_leases(&RenewLeases {
                leases: &leases,
                lease_until: now + TimeDelta::minutes(1),
            }),
        )
        .await;
        assert!(renewed.unwrap().iter().all(|r| *r));
        let outcomes: Vec<Outcome> = leases[..25]
            .iter()
            .map(|lease| Outcome {
                lease: lease.clone(),
                now,
                kind: OutcomeKind::Completed { output: json!(1) },
            })
            .collect();
        let (commands_record, recorded) = watch(&store, store.record_outcomes(&outcomes)).await;
        assert!(recorded.unwrap().iter().all(|r| *r));
        let (commands_release, released) = watch(&store, store.release_jobs(&leases[25..])).await;
        assert!(released.unwrap().iter().all(|r| *r));
        if round == 1 {
            for (call, commands) in [
                ("insert_jobs", commands),
                ("claim_jobs", commands_claim),
                ("renew_leases", commands_renew),
                ("record_outcomes", commands_record),
                ("release_jobs", commands_release),
            ] {
                let writes = index_writes(&commands);
                assert!(
                    writes <= 12,
                    "{call} of 50 takes {writes} commands on indexes, not a few per job"
                );
                assert_eq!(calls(commands), one, "{call} of 50 is one script call");
            }
        }
        let _ = store
            .claim_jobs(&ClaimJobs {
                names: &names,
                now,
                lease_until: now + TimeDelta::seconds(30),
                token: LeaseToken::random(),
                limit: 100,
            })
            .await
            .unwrap();
    }
}
