//! Store-level tests on PostgreSQL: what the conformance suite cannot see.
//!
//! Index use of the claim, durability across reopening (R21), repeated and concurrent
//! migrations, isolation by prefix and schema, LISTEN/NOTIFY wake-ups (and their recovery after
//! a lost connection), atomic claims and scheduler takes across pools, and unreadable rows as
//! store errors.

mod common;

use std::collections::HashSet;
use std::future::Future;
use std::str::FromStr;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, TimeZone, Utc};
use common::{drop_schema, pg_pool, postgres_store, postgres_url, random_schema};
use remote_core::{
    Claim, Error, ErrorRecord, Failure, Job, JobQuery, JobStatus, JobStore, LeaseToken,
    SchedulerItem, SchedulerStore, Take,
};
use remote_sql::{SqlOptions, SqlStore};
use serde_json::json;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

/// Runs `body` with a fresh schema name `s` (it may also use `s_b`), then drops both schemas,
/// whether the body passed or panicked.
async fn in_schema<F, Fut>(body: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let schema = random_schema();
    let outcome = tokio::spawn(body(schema.clone())).await;
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&postgres_url())
        .await
        .expect("an admin connection to drop the test schemas");
    drop_schema(&admin, &schema).await;
    drop_schema(&admin, &format!("{schema}_b")).await;
    admin.close().await;
    if let Err(failure) = outcome {
        match failure.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(failure) => panic!("the test task failed: {failure}"),
        }
    }
}

fn t(seconds: i64) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("valid time")
        + TimeDelta::seconds(seconds)
}

fn echo(n: i64, at: i64) -> Job {
    Job::queued("echo", json!({ "n": n }), 3, Duration::from_secs(10), t(at))
}

async fn claim(store: &SqlStore, now: i64, limit: usize) -> Vec<Job> {
    let names = vec!["echo".to_owned()];
    store
        .claim_jobs(&Claim {
            names: &names,
            now: t(now),
            lease_until: t(now + 30),
            token: LeaseToken::random(),
            limit,
        })
        .await
        .expect("claim")
}

/// Inserts jobs 1..=n server-side (ids and `queued_at` in row order; name and status from the
/// given SQL expressions of the row number `g`), then `VACUUM ANALYZE`s the table.
async fn fill_and_analyze(pool: &PgPool, schema: &str, n: i64, name: &str, status: &str) {
    sqlx::query(&format!(
        "INSERT INTO \"{schema}\".remote_jobs \
           (id, job_name, input, status, retry_counter, max_retries, retry_delay_ms, queued_at) \
         SELECT lpad(to_hex(g), 24, '0'), {name}, 'null', {status}, 0, 3, 10000, \
                timestamptz '2026-01-01 00:00:00+00' + g * interval '1 millisecond' \
         FROM generate_series(1, {n}) AS g"
    ))
    .execute(pool)
    .await
    .expect("bulk insert");
    sqlx::query(&format!("VACUUM ANALYZE \"{schema}\".remote_jobs"))
        .execute(pool)
        .await
        .expect("vacuum");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_uses_the_claim_index_on_100k_queued_jobs() {
    in_schema(|schema| async move {
        let store = postgres_store(&schema).await;
        let pool = pg_pool(&store);
        // 125 000 rows: every 5th completed, so 100 000 queued; every 10th of another name.
        fill_and_analyze(
            &pool,
            &schema,
            125_000,
            "CASE WHEN g % 10 = 0 THEN 'other' ELSE 'echo' END",
            "CASE WHEN g % 5 = 0 THEN 'completed' ELSE 'queued' END",
        )
        .await;
        let queued = store.count_jobs().await.unwrap()[&JobStatus::Queued];
        assert_eq!(queued, 100_000);

        let plan = store.explain_claim(&["echo".to_owned()], 10).await.unwrap();
        println!("claim plan on {queued} queued jobs:\n{plan}");
        assert!(
            plan.contains("remote_jobs_claim"),
            "the claim uses the claim index:\n{plan}"
        );
        assert!(
            !plan.contains("Seq Scan on remote_jobs"),
            "the claim never scans the jobs table:\n{plan}"
        );

        let started = Instant::now();
        let claimed = claim(&store, 3600, 10).await;
        println!("claimed 10 of 100 000 in {:?}", started.elapsed());
        let expected: Vec<String> = [1, 2, 3, 4, 6, 7, 8, 9, 11, 12]
            .iter()
            .map(|g| format!("{g:024x}"))
            .collect();
        let got: Vec<&str> = claimed.iter().map(|j| j.id.as_str()).collect();
        assert_eq!(got, expected, "the oldest queued echo jobs, in pull order");
    })
    .await;
}

/// Statistics taken while every job was queued, then part of the queue claimed: the claim
/// still walks the claim index, not the listing index on all rows, which would filter past
/// every job already claimed (each claim then cost more the more jobs were done).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_uses_the_claim_index_when_statistics_say_every_job_is_queued() {
    in_schema(|schema| async move {
        let store = postgres_store(&schema).await;
        let pool = pg_pool(&store);
        fill_and_analyze(&pool, &schema, 10_000, "'echo'", "'queued'").await;
        for _ in 0..4 {
            assert_eq!(claim(&store, 3600, 500).await.len(), 500);
        }

        let plan = store.explain_claim(&["echo".to_owned()], 1).await.unwrap();
        println!("claim plan after 2 000 of 10 000 jobs were claimed:\n{plan}");
        assert!(
            plan.contains("remote_jobs_claim"),
            "the claim uses the claim index:\n{plan}"
        );
        let claimed = claim(&store, 3600, 1).await;
        assert_eq!(claimed[0].id.as_str(), format!("{:024x}", 2001));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_errors_and_items_survive_closing_and_reopening() {
    in_schema(|schema| async move {
        let store = postgres_store(&schema).await;
        let jobs = vec![echo(1, 0), echo(2, 1), echo(3, 2)];
        store.insert_jobs(&jobs).await.unwrap();
        let claimed = claim(&store, 10, 2).await;
        let (done, failed) = (&claimed[0], &claimed[1]);
        let token = |j: &Job| j.lease_token.expect("claimed");
        assert!(store
            .complete_job(&done.id, token(done), &json!({"ok": "✓"}), t(11))
            .await
            .unwrap());
        let record = ErrorRecord::new(1, "boom: the cause", t(12));
        let failure = Failure {
            record: record.clone(),
            retry_at: Some(t(22)),
            now: t(12),
            lease_expired: false,
        };
        assert!(store
            .fail_job(&failed.id, token(failed), &failure)
            .await
            .unwrap());
        let running = claim(&store, 30, 1).await;
        assert_eq!(running.len(), 1, "the retried job is claimed again");
        let item = SchedulerItem::delay("echo", 60)
            .with_input(json!({"$where": "a.b"}))
            .with_next_call_time(t(60));
        store.insert_item(&item).await.unwrap();

        let all = JobQuery {
            oldest_first: true,
            ..JobQuery::default()
        };
        let before = store.list_jobs(&all).await.unwrap();
        let pool = pg_pool(&store);
        drop(store);
        pool.close().await;

        let reopened = postgres_store(&schema).await;
        assert_eq!(reopened.list_jobs(&all).await.unwrap(), before);
        assert_eq!(
            reopened.job_errors(&failed.id).await.unwrap(),
            Some(vec![record])
        );
        assert_eq!(reopened.list_items().await.unwrap(), vec![item]);
        let expired = reopened.expired_leases(t(3600), 10).await.unwrap();
        assert_eq!(
            expired.iter().map(|j| &j.id).collect::<Vec<_>>(),
            vec![&running[0].id],
            "the attempt running when the store closed comes back through lease recovery"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_run_twice_and_concurrently_without_harm() {
    in_schema(|schema| async move {
        let store = postgres_store(&schema).await;
        store.insert_jobs(&[echo(1, 0)]).await.unwrap();
        store.migrate().await.unwrap();
        store.migrate().await.unwrap();
        let (a, b) = tokio::join!(postgres_store(&schema), postgres_store(&schema));
        a.migrate().await.unwrap();
        assert_eq!(b.list_jobs(&JobQuery::default()).await.unwrap().len(), 1);
        let versions: Vec<i64> = sqlx::query_scalar(&format!(
            "SELECT version FROM \"{schema}\".remote_migrations ORDER BY version"
        ))
        .fetch_all(&pg_pool(&store))
        .await
        .unwrap();
        assert_eq!(versions, [1, 2]);

        // Two stores creating the same missing schema at once.
        let fresh = format!("{schema}_b");
        let (c, d) = tokio::join!(postgres_store(&fresh), postgres_store(&fresh));
        c.insert_jobs(&[echo(2, 0)]).await.unwrap();
        assert_eq!(d.list_jobs(&JobQuery::default()).await.unwrap().len(), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefixes_and_schemas_do_not_see_each_other() {
    in_schema(|schema| async move {
        let url = postgres_url();
        let open = |schema: String, prefix: &'static str| {
            let url = url.clone();
            async move {
                SqlOptions::new()
                    .schema(schema)
                    .table_prefix(prefix)
                    .max_connections(2)
                    .connect(&url)
                    .await
                    .expect("store")
            }
        };
        let a = open(schema.clone(), "app_a_").await;
        let b = open(schema.clone(), "app_b_").await;
        let c = open(format!("{schema}_b"), "app_a_").await;
        a.insert_jobs(&[echo(1, 0)]).await.unwrap();
        a.insert_item(&SchedulerItem::delay("echo", 5).with_next_call_time(t(5)))
            .await
            .unwrap();
        for other in [&b, &c] {
            assert!(other
                .list_jobs(&JobQuery::default())
                .await
                .unwrap()
                .is_empty());
            assert!(other.list_items().await.unwrap().is_empty());
            assert!(other.due_items(t(100), 10).await.unwrap().is_empty());
            assert!(claim(other, 100, 10).await.is_empty());
        }
        assert_eq!(claim(&a, 100, 10).await.len(), 1);

        let unmigrated = SqlOptions::new()
            .schema(schema.clone())
            .table_prefix("later_")
            .run_migrations(false)
            .max_connections(2)
            .connect(&url)
            .await
            .unwrap();
        let refused = unmigrated.list_jobs(&JobQuery::default()).await;
        assert!(
            matches!(refused, Err(ref e) if e.is_store()),
            "no tables yet is a store error: {refused:?}"
        );
        unmigrated.migrate().await.unwrap();
        assert!(unmigrated
            .list_jobs(&JobQuery::default())
            .await
            .unwrap()
            .is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_wakes_idle_workers_of_another_store() {
    in_schema(|schema| async move {
        let adder = postgres_store(&schema).await;
        let listener = postgres_store(&schema).await;
        let elsewhere = postgres_store(&format!("{schema}_b")).await;
        let wake = listener.wakeups().expect("a PostgreSQL store listens");
        let unrelated = elsewhere.wakeups().expect("a PostgreSQL store listens");
        let _ = tokio::time::timeout(Duration::from_millis(100), wake.notified()).await;
        let _ = tokio::time::timeout(Duration::from_millis(100), unrelated.notified()).await;

        let woken = wake.notified();
        let not_woken = unrelated.notified();
        tokio::pin!(woken, not_woken);
        woken.as_mut().enable();
        not_woken.as_mut().enable();
        assert!(
            tokio::time::timeout(Duration::from_millis(300), &mut woken)
                .await
                .is_err(),
            "no wake-up without a new job"
        );
        let started = Instant::now();
        adder.insert_jobs(&[echo(1, 0)]).await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), woken)
            .await
            .expect("the other store is woken by NOTIFY within 5 s");
        println!("woken {:?} after the insert", started.elapsed());
        assert!(
            tokio::time::timeout(Duration::from_millis(500), not_woken)
                .await
                .is_err(),
            "a store on another schema is not woken"
        );

        let quiet = SqlOptions::new()
            .schema(schema.clone())
            .listen(false)
            .max_connections(1)
            .connect(&postgres_url())
            .await
            .unwrap();
        assert!(quiet.wakeups().is_none());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_connections_are_store_errors_and_the_listener_comes_back() {
    in_schema(|schema| async move {
        let url = postgres_url();
        let tagged = PgConnectOptions::from_str(&url)
            .expect("test URL")
            .application_name(&schema);
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect_with(tagged)
            .await
            .expect("pool");
        let store = SqlOptions::new()
            .schema(schema.clone())
            .from_pool(pool)
            .await
            .unwrap();
        let other = postgres_store(&schema).await;
        let job = echo(1, 0);
        other.insert_jobs(std::slice::from_ref(&job)).await.unwrap();
        let wake = store.wakeups().expect("listening");

        let killed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
        )
        .bind(&schema)
        .fetch_all(&pg_pool(&other))
        .await
        .unwrap();
        assert!(
            killed.len() >= 2,
            "the pool's and the listener's connections"
        );

        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match store.get_job(&job.id).await {
                Ok(found) => {
                    assert_eq!(found, Some(job.clone()));
                    break;
                }
                Err(e) => assert!(e.is_store(), "a lost connection is a store error: {e:?}"),
            }
            assert!(Instant::now() < deadline, "the store never recovered");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        let woken = loop {
            let notified = wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            other.insert_jobs(&[echo(2, 0)]).await.unwrap();
            if tokio::time::timeout(Duration::from_millis(500), notified)
                .await
                .is_ok()
            {
                break true;
            }
            if Instant::now() > deadline {
                break false;
            }
        };
        assert!(woken, "the listener reconnected and wakes again");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pools_claiming_at_once_hand_out_each_job_once() {
    in_schema(|schema| async move {
        let a = postgres_store(&schema).await;
        let b = postgres_store(&schema).await;
        let jobs: Vec<Job> = (0..600).map(|n| echo(n, n % 50)).collect();
        a.insert_jobs(&jobs).await.unwrap();
        let mut workers = Vec::new();
        for store in [a.clone(), b.clone(), a.clone(), b.clone(), a, b] {
            workers.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let got = claim(&store, 100, 7).await;
                    if got.is_empty() {
                        return mine;
                    }
                    mine.extend(got.into_iter().map(|j| j.id));
                }
            }));
        }
        let mut all = Vec::new();
        for worker in workers {
            all.extend(worker.await.expect("claimer"));
        }
        let unique: HashSet<_> = all.iter().collect();
        assert_eq!(all.len(), 600, "every job claimed");
        assert_eq!(unique.len(), 600, "no job claimed twice");
    })
    .await;
}

/// Eight scheduler tasks on two pools take one occurrence of one item: exactly one succeeds.
async fn race_for_one_occurrence(a: SqlStore, b: SqlStore) {
    let item = SchedulerItem::delay("echo", 60).with_next_call_time(t(60));
    a.insert_item(&item).await.unwrap();
    let take = Take {
        id: item.id.clone(),
        expected_next_call_time: t(60),
        next_call_time: Some(t(120)),
        retry_time: Some(t(360)),
        now: t(61),
    };
    let racers: Vec<_> = (0..8)
        .map(|i| {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            let take = take.clone();
            tokio::spawn(async move { store.take_item(&take).await.expect("take") })
        })
        .collect();
    let mut won = 0;
    for racer in racers {
        won += usize::from(racer.await.expect("racer"));
    }
    assert_eq!(won, 1, "one occurrence is taken once");
    let stored = b.get_item(&item.id).await.unwrap().expect("item");
    assert_eq!(
        (stored.next_call_time, stored.retry_time),
        (Some(t(120)), Some(t(360)))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pools_taking_one_occurrence_take_it_once() {
    in_schema(|schema| async move {
        let a = postgres_store(&schema).await;
        let b = postgres_store(&schema).await;
        race_for_one_occurrence(a, b).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_rows_are_store_errors() {
    in_schema(|schema| async move {
        let store = postgres_store(&schema).await;
        let pool = pg_pool(&store);
        sqlx::query(&format!(
            "INSERT INTO \"{schema}\".remote_jobs \
               (id, job_name, input, status, retry_counter, max_retries, retry_delay_ms, queued_at) \
             VALUES ('not-an-id', 'echo', '{{}}', 'queued', -1, 3, 10, now())"
        ))
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query(&format!(
            "INSERT INTO \"{schema}\".remote_items \
               (id, job_name, input, active, retry_delay_ms, schedule) \
             VALUES ('0123456789abcdef01234567', 'echo', 'null', true, 10, '{{\"kind\": \"nope\"}}')"
        ))
        .execute(&pool)
        .await
        .unwrap();
        let jobs = store.list_jobs(&JobQuery::default()).await;
        assert!(matches!(jobs, Err(Error::Store { .. })), "{jobs:?}");
        let claimed = store
            .claim_jobs(&Claim {
                names: &["echo".to_owned()],
                now: Utc::now(),
                lease_until: Utc::now(),
                token: LeaseToken(1),
                limit: 5,
            })
            .await;
        assert!(matches!(claimed, Err(Error::Store { .. })), "{claimed:?}");
        let items = store.list_items().await;
        assert!(matches!(items, Err(Error::Store { .. })), "{items:?}");
    })
    .await;
}
