//! Store-level tests on PostgreSQL: the shared cases (`common::cases`), and what only
//! PostgreSQL has: LISTEN/NOTIFY wake-ups (and their recovery after a lost connection), the
//! claim's plan without statistics and under stale ones, the plans of batches of outcomes,
//! releases and renewals under stale ones, schemas, the previous release's schema migrated.

mod common;

use std::str::FromStr;
use std::time::{Duration, Instant};

use common::cases::{claim, echo, insert, t};
use common::{postgres_url, Db, Space};
use remote_core::{
    ClaimItems, InsertJobs, Inserted, Job, JobOptions, JobQuery, JobStore, OnConflict,
    SchedulerItem, SchedulerStore,
};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

every_dialects_cases!(Db::Postgres);
store_cases!(Db::Postgres;
    data_of_the_previous_release_is_read_and_claimed,
    times_do_not_depend_on_the_session_time_zone,
);

fn pg_pool(store: &remote_sql::SqlStore) -> sqlx::PgPool {
    match store.pool() {
        remote_sql::SqlPool::Postgres(pool) => pool,
        other => panic!("not a PostgreSQL store: {other:?}"),
    }
}

/// A statement's query, handed to a test to bind one parameter.
type Explain<'q> =
    sqlx::query::QueryScalar<'q, sqlx::Postgres, String, sqlx::postgres::PgArguments>;

/// The plan PostgreSQL makes for the statement `name`, each parameter bound by `bind`, given
/// its name.
async fn plan(
    store: &remote_sql::SqlStore,
    name: &str,
    bind: impl for<'q> Fn(Explain<'q>, &str) -> Explain<'q>,
) -> String {
    let explain = format!("EXPLAIN {}", store.query_text(name).expect(name));
    let mut query = sqlx::query_scalar::<_, String>(&explain);
    for param in store.query_params(name).expect(name) {
        query = bind(query, param);
    }
    query.fetch_all(&pg_pool(store)).await.unwrap().join("\n")
}

/// The plan of the listing statement `name` (`list_jobs_oldest` or `list_jobs_newest`) for a
/// page of 100 jobs of `statuses` (all when empty), of every name.
async fn listing_plan(store: &remote_sql::SqlStore, name: &str, statuses: &[&str]) -> String {
    let statuses: Vec<String> = statuses.iter().map(|s| s.to_string()).collect();
    plan(store, name, |query, param| match param {
        "statuses" => query.bind(statuses.clone()),
        "job_name" => query.bind(None::<String>),
        "limit" => query.bind(100_i64),
        "offset" => query.bind(0_i64),
        other => panic!("{name} has a parameter this test does not know: {other}"),
    })
    .await
}

/// `reclaim_space` vacuums the jobs and error-record tables (R33): the server notes a vacuum
/// of both, and the jobs left read back as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reclaiming_space_vacuums_the_jobs_and_errors_tables() {
    Space::run(Db::Postgres, |space| async move {
        let store = space.open().await;
        let jobs: Vec<Job> = (0..100).map(|n| echo(n, n)).collect();
        insert(&store, &jobs).await;
        let removed = store
            .remove_jobs(&remote_core::RemoveJobs {
                statuses: &[remote_core::JobStatus::Queued],
                names: remote_core::JobNames::All,
                finished_before: None,
                limit: Some(60),
            })
            .await
            .unwrap();
        assert_eq!(removed.values().sum::<u64>(), 60);
        let left = store.list_jobs(&JobQuery::default()).await.unwrap();
        let vacuums = space.render(
            "SELECT count(*) FROM pg_stat_all_tables \
             WHERE relid IN ('{jobs}'::regclass, '{errors}'::regclass) AND last_vacuum IS NOT NULL",
        );
        let vacuumed = || async {
            sqlx::query_scalar::<_, i64>(&vacuums)
                .fetch_one(&pg_pool(&store))
                .await
                .unwrap()
        };
        assert_eq!(vacuumed().await, 0, "fresh tables were never vacuumed");
        store.reclaim_space().await.unwrap();
        let started = Instant::now();
        while vacuumed().await < 2 {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the server noted no vacuum of both tables"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(store.list_jobs(&JobQuery::default()).await.unwrap(), left);
    })
    .await;
}

/// A new jobs table filled through the store has no statistics until autovacuum or ANALYZE
/// comes by: the claim still walks the claim index in pull order (priority first) instead of
/// sorting the queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_walks_the_claim_index_before_any_statistics() {
    Space::run(Db::Postgres, |space| async move {
        let store = space.open().await;
        // Every fourth job is of a higher priority.
        let mut jobs: Vec<Job> = (0..10_000)
            .map(|n| Job {
                priority: i16::from(n % 4 == 0),
                ..echo(n, n)
            })
            .collect();
        for batch in jobs.chunks(2_000) {
            insert(&store, batch).await;
        }
        jobs.sort_by_key(|j| (std::cmp::Reverse(j.priority), j.queued_at));
        let reltuples: f32 = sqlx::query_scalar(
            &space.render("SELECT reltuples FROM pg_class WHERE oid = '{jobs}'::regclass"),
        )
        .fetch_one(&pg_pool(&store))
        .await
        .unwrap();
        assert!(
            reltuples < 0.0,
            "the table has never been analysed ({reltuples})"
        );
        space
            .assert_claim_walks_the_index(&store, 1, "on 10 000 jobs without statistics")
            .await;
        let started = Instant::now();
        for job in &jobs[..100] {
            let claimed = claim(&store, 20_000, 1).await;
            assert_eq!(claimed[0].id, job.id, "pull order");
        }
        println!("100 claims of one job in {:?}", started.elapsed());
    })
    .await;
}

/// Statistics taken while every job was queued, then part of the queue claimed: the claim
/// still walks the claim index, not an index of all rows (the listing index, before migration
/// 8), which would filter past every job already claimed (each claim then cost more the more
/// jobs were done).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_walks_the_claim_index_under_stale_statistics() {
    Space::run(Db::Postgres, |space| async move {
        let store = space.open().await;
        space
            .fill_with(&store, 10_000, "'echo'", "'queued'", "g % 2")
            .await;
        for _ in 0..4 {
            assert_eq!(claim(&store, 3600, 500).await.len(), 500);
        }
        space
            .assert_claim_walks_the_index(&store, 1, "after 2 000 of 10 000 jobs were claimed")
            .await;
        // The odd jobs (priority 1) go first: 2 000 claimed, the next is the 2 001st odd one.
        let claimed = claim(&store, 3600, 1).await;
        assert_eq!(claimed[0].id.as_str(), format!("{:024x}", 4001));
    })
    .await;
}

/// Statistics taken while every job was queued say that none is running; a batch of outcomes,
/// releases or renewals still finds its jobs by primary key, and no status or lease index
/// serves it. Served by one, a batch joined every entry that index held for 'processing', dead
/// versions included, so its cost grew with the jobs worked since the table was last vacuumed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_find_their_jobs_by_primary_key_under_stale_statistics() {
    Space::run(Db::Postgres, |space| async move {
        let store = space.open().await;
        space.fill(&store, 10_000, "'echo'", "'queued'").await;
        let claimed = claim(&store, 3600, 10).await;
        assert_eq!(claimed.len(), 10);
        let n = claimed.len();
        let ids: Vec<String> = claimed.iter().map(|j| j.id.to_string()).collect();
        let tokens: Vec<i64> = claimed
            .iter()
            .map(|j| j.lease_token.expect("a claimed job's token").as_i64())
            .collect();
        for name in ["record_outcomes", "release_jobs", "renew_leases"] {
            let plan = plan(&store, name, |query, param| match param {
                "id" => query.bind(ids.clone()),
                "token" => query.bind(tokens.clone()),
                "lease_until" => query.bind(t(3700)),
                "now" => query.bind(vec![t(3601); n]),
                "kind" => query.bind(vec!["completed"; n]),
                "output" => query.bind(vec![Some("null"); n]),
                "not_before" | "created" => {
                    query.bind(vec![None::<chrono::DateTime<chrono::Utc>>; n])
                }
                "record_id" => query.bind(vec![None::<String>; n]),
                "record_attempt" => query.bind(vec![None::<i64>; n]),
                "message" => query.bind(vec![None::<Vec<u8>>; n]),
                "rescue" => query.bind(false),
                other => panic!("{name} has a parameter this test does not know: {other}"),
            })
            .await;
            assert!(
                plan.contains(&format!("Index Scan using {}jobs_pkey", space.prefix())),
                "{name} finds each job by primary key:\n{plan}"
            );
            assert!(
                !plan.contains("jobs_error_cancelled") && !plan.contains("jobs_lease"),
                "no status or lease index serves {name}:\n{plan}"
            );
        }
    })
    .await;
}

/// Statements given a list of ids find each on the primary key in a table grown by the store's
/// own inserts, before it has any statistics. Given the list as a parameter, the planner
/// scanned every row of such a table, comparing each with every id: adding 100 jobs to one of
/// 10 000 took 7–11 ms, growing with the table, instead of about 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_of_ids_are_found_by_primary_key_before_any_statistics() {
    Space::run(Db::Postgres, |space| async move {
        let store = space.open().await;
        let mut ids = Vec::new();
        for batch in 0..100 {
            let jobs: Vec<Job> = (0..100).map(|n| echo(n, batch)).collect();
            ids.extend(jobs.iter().map(|j| j.id.to_string()));
            insert(&store, &jobs).await;
        }
        let n = 100;
        let new: Vec<String> = (0..n)
            .map(|_| remote_core::JobId::new().to_string())
            .collect();
        let stored: Vec<String> = ids.iter().step_by(ids.len() / n).cloned().collect();
        let none_text = vec![None::<String>; n];
        let none_int = vec![None::<i64>; n];
        let none_time = vec![None::<chrono::DateTime<chrono::Utc>>; n];
        for name in [
            "insert_jobs",
            "job_conflicts",
            "remove_jobs",
            "retry_picked_jobs",
        ] {
            let plan = plan(&store, name, |query, param| match param {
                "id" => query.bind(new.clone()),
                "ids" if name == "insert_jobs" => query.bind(new.clone()),
                "ids" => query.bind(stored.clone()),
                "keys" => query.bind(Vec::<String>::new()),
                "job_name" => query.bind(vec!["echo"; n]),
                "input" => query.bind(vec!["null"; n]),
                "status" => query.bind(vec!["queued"; n]),
                "output" | "unique_key" | "trace_context" => query.bind(none_text.clone()),
                "attempt" | "max_attempts" | "retry_delay_ms" => query.bind(vec![0_i64; n]),
                "lease_token" | "timeout_ms" => query.bind(none_int.clone()),
                "queued_at" => query.bind(vec![t(0); n]),
                "not_before" | "picked_at" | "completed_at" | "lease_until" => {
                    query.bind(none_time.clone())
                }
                "priority" | "unique_across" => query.bind(vec![0_i16; n]),
                "snoozes" => query.bind(vec![0_i32; n]),
                other => panic!("{name} has a parameter this test does not know: {other}"),
            })
            .await;
            assert!(
                plan.contains(&format!("{}jobs_pkey", space.prefix()))
                    && !plan.contains(&format!("Seq Scan on {}jobs", space.prefix())),
                "{name} finds its ids on the primary key:\n{plan}"
            );
        }
    })
    .await;
}

/// A scheduler's take finds its items by primary key, and its claim, which changes no indexed
/// column, rewrites each item in the page it is on. Joined with the arrays alone, a take of 256
/// items hashed a scan of the whole items table (3–4 ms at 20,000 items); with pages filled
/// to the brim, a claim moved each item to another page and added an entry for it to the
/// items' indexes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduler_items_are_taken_by_primary_key_and_claimed_in_place() {
    Space::run(Db::Postgres, |space| async move {
        let store = space.open().await;
        let due = t(0);
        let items: Vec<SchedulerItem> = (0..1_000)
            .map(|i| {
                SchedulerItem::delay("echo", 60)
                    .with_input(serde_json::json!({ "i": i }))
                    .with_next_call_time(due)
            })
            .collect();
        for item in &items {
            store.insert_item(item).await.unwrap();
        }
        let table = format!("\"{}\".\"{}items\"", space.name, space.prefix());
        let pages = format!("SELECT id, (ctid::text::point)[0]::bigint FROM {table} ORDER BY id");
        let before: Vec<(String, i64)> = sqlx::query_as(&pages)
            .fetch_all(&pg_pool(&store))
            .await
            .unwrap();
        let claimed = store
            .claim_items(&ClaimItems {
                now: t(1),
                locked_until: t(2),
                limit: items.len(),
            })
            .await
            .unwrap();
        assert_eq!(claimed.len(), items.len());
        let after: Vec<(String, i64)> = sqlx::query_as(&pages)
            .fetch_all(&pg_pool(&store))
            .await
            .unwrap();
        let moved = before.iter().zip(&after).filter(|(b, a)| b != a).count();
        assert!(
            moved * 10 < items.len(),
            "{moved} of {} items claimed out of their page",
            items.len()
        );

        let n = 256;
        let ids: Vec<String> = claimed.iter().take(n).map(|i| i.id.to_string()).collect();
        let name = "take_items";
        let plan = plan(&store, name, |query, param| match param {
            "id" => query.bind(ids.clone()),
            "expected_next_call_time" => query.bind(vec![due; n]),
            "expected_locked_until" => query.bind(vec![t(2); n]),
            "next_call_time" => query.bind(vec![t(60); n]),
            "locked_until" => query.bind(vec![None::<chrono::DateTime<chrono::Utc>>; n]),
            other => panic!("{name} has a parameter this test does not know: {other}"),
        })
        .await;
        assert!(
            plan.contains(&format!("{}items_pkey", space.prefix()))
                && !plan.contains(&format!("Seq Scan on {}items", space.prefix())),
            "{name} finds its items on the primary key:\n{plan}"
        );
    })
    .await;
}

/// A claim and an outcome change `status`, so each adds an entry to every index of the jobs
/// table it enters: apart from the primary key, every index holds only the jobs of some
/// statuses (the claim index queued ones, the lease index running ones, and so on). An index of
/// every job, by status or in listing order, would add its cost to every claim and outcome.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_index_but_the_primary_key_holds_some_jobs_only() {
    Space::run(Db::Postgres, |space| async move {
        let store = space.open().await;
        let indexes: Vec<(String, String)> = sqlx::query_as(
            "SELECT indexname::text, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = $2",
        )
        .bind(&space.name)
        .bind(format!("{}jobs", space.prefix()))
        .fetch_all(&pg_pool(&store))
        .await
        .unwrap();
        assert!(indexes.len() >= 6, "the jobs table's indexes: {indexes:?}");
        for (name, definition) in &indexes {
            assert!(
                name.ends_with("jobs_pkey") || definition.contains(" WHERE "),
                "{name} holds every job: {definition}"
            );
        }
    })
    .await;
}

/// The listing order is kept beside the jobs table, one row per job: jobs added by any
/// statement are listed in order, and removing jobs removes their rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listing_order_follows_every_job_added_and_removed() {
    Space::run(Db::Postgres, |space| async move {
        let store = space.open().await;
        space.fill(&store, 20_000, "'echo'", "'completed'").await;
        insert(&store, &[echo(1000, 10), echo(1001, 20)]).await;
        let oldest = store
            .list_jobs(&JobQuery {
                oldest_first: true,
                limit: Some(3),
                ..JobQuery::default()
            })
            .await
            .unwrap();
        let ids: Vec<&str> = oldest.iter().map(|j| j.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                format!("{:024x}", 1),
                format!("{:024x}", 2),
                format!("{:024x}", 3)
            ]
        );
        let plan = listing_plan(&store, "list_jobs_newest", &[]).await;
        assert!(
            plan.contains("Scan Backward using") && plan.contains("job_order_pkey"),
            "a page of the newest jobs walks the listing order's key:\n{plan}"
        );
        let newest = store.list_jobs(&JobQuery::default()).await.unwrap();
        assert_eq!(newest.len(), 20_002);
        assert!(
            newest
                .windows(2)
                .all(|w| (w[0].queued_at, w[0].id.as_str()) >= (w[1].queued_at, w[1].id.as_str())),
            "newest first"
        );
        let removed = store
            .remove_jobs(&remote_core::RemoveJobs {
                statuses: &[remote_core::JobStatus::Completed],
                names: remote_core::JobNames::All,
                finished_before: None,
                limit: None,
            })
            .await
            .unwrap();
        assert_eq!(removed.values().sum::<u64>(), 20_000);
        let (rows,): (i64,) = sqlx::query_as(&format!(
            "SELECT count(*) FROM {}",
            space.table("job_order")
        ))
        .fetch_one(&pg_pool(&store))
        .await
        .unwrap();
        assert_eq!(rows, 2, "one row per job left");
        let left = store.list_jobs(&JobQuery::default()).await.unwrap();
        assert_eq!(left.len(), 2);
    })
    .await;
}

/// Listing the failed jobs among many completed ones reads the index of failed and cancelled
/// jobs and finds their listing rows by id, not every job in listing order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_jobs_are_listed_from_their_own_index() {
    Space::run(Db::Postgres, |space| async move {
        let store = space.open().await;
        space.fill(&store, 20_000, "'echo'", "'completed'").await;
        space
            .exec(
                &store,
                "UPDATE {jobs} SET status = 'error' WHERE right(id, 3) = '200'",
            )
            .await;
        space.analyze(&store).await;
        let plan = listing_plan(&store, "list_jobs_oldest", &["error"]).await;
        assert!(
            plan.contains("jobs_error_cancelled") && !plan.contains("Seq Scan"),
            "failed jobs are found on their index, their listing rows by id:\n{plan}"
        );
        let failed = store
            .list_jobs(&JobQuery {
                statuses: vec![remote_core::JobStatus::Error],
                oldest_first: true,
                ..JobQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(failed.len(), 5, "ids ending in 200 among 0x1 to 0x4e20");
        assert!(failed.iter().all(|j| j.id.as_str().ends_with("200")));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemas_do_not_see_each_other() {
    Space::run(Db::Postgres, |space| async move {
        let a = space.open().await;
        let b = space.sibling().open().await;
        insert(&a, &[echo(1, 0)]).await;
        assert!(b.list_jobs(&JobQuery::default()).await.unwrap().is_empty());
        assert!(claim(&b, 100, 10).await.is_empty());
        assert_eq!(claim(&a, 100, 10).await.len(), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_wakes_idle_workers_of_another_store() {
    Space::run(Db::Postgres, |space| async move {
        let adder = space.open().await;
        let listener = space.open().await;
        let elsewhere = space.sibling().open().await;
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
        insert(&adder, &[echo(1, 0)]).await;
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

        // A skipped insert adds nothing and wakes nobody; a release wakes like an insert.
        let job = echo(2, 0);
        insert(&adder, std::slice::from_ref(&job)).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        // The permit a wake-up leaves for the next worker to idle.
        let _ = tokio::time::timeout(Duration::from_millis(100), wake.notified()).await;
        let quiet = wake.notified();
        tokio::pin!(quiet);
        quiet.as_mut().enable();
        let skipped = adder
            .insert_jobs(&InsertJobs {
                jobs: &[job],
                on_conflict: OnConflict::Skip,
            })
            .await
            .unwrap();
        assert_eq!(skipped, [Inserted::Skipped]);
        assert!(tokio::time::timeout(Duration::from_millis(300), &mut quiet)
            .await
            .is_err());
        let claimed = claim(&adder, 100, 1).await;
        let lease =
            conformance_tests::calls::lease(&claimed[0].id, claimed[0].lease_token.unwrap());
        assert_eq!(adder.release_jobs(&[lease]).await.unwrap(), [true]);
        tokio::time::timeout(Duration::from_secs(5), quiet)
            .await
            .expect("a release wakes the listeners");

        let silent = space.open_with(space.options().listen(false)).await;
        assert!(silent.wakeups().is_none());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_connections_are_store_errors_and_the_listener_comes_back() {
    Space::run(Db::Postgres, |space| async move {
        let tagged = PgConnectOptions::from_str(&postgres_url())
            .expect("test URL")
            .application_name(&space.name);
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect_with(tagged)
            .await
            .expect("pool");
        let store = space.options().from_pool(pool).await.unwrap();
        let other = space.open().await;
        let job = echo(1, 0);
        insert(&other, std::slice::from_ref(&job)).await;
        let wake = store.wakeups().expect("listening");

        let killed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
        )
        .bind(&space.name)
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
            insert(&other, &[echo(2, 0)]).await;
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

/// Jobs added in the application's transaction wake the workers of other processes only when
/// it commits: the NOTIFY is sent in the transaction (R32).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_added_in_a_transaction_wake_workers_at_commit() {
    Space::run(Db::Postgres, |space| async move {
        let store = space.open().await;
        let listener = space.open().await;
        let wake = listener.wakeups().expect("a PostgreSQL store listens");
        let _ = tokio::time::timeout(Duration::from_millis(100), wake.notified()).await;
        let p = common::cases::processor(&store);
        let job = p
            .prepare_job("echo", serde_json::json!(1), JobOptions::new())
            .unwrap();
        let mut tx = pg_pool(&store).begin().await.unwrap();
        let woken = wake.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let added = store
            .insert_jobs_in(&mut tx, std::slice::from_ref(&job))
            .await;
        assert_eq!(added.unwrap(), [Inserted::Stored]);
        assert!(
            tokio::time::timeout(Duration::from_millis(500), &mut woken)
                .await
                .is_err(),
            "no wake-up before the commit"
        );
        tx.commit().await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), woken)
            .await
            .expect("woken at the commit");
        assert_eq!(claim(&listener, 100, 1).await[0].id, job.id);
    })
    .await;
}

/// A connection of another database than the store's is refused with a typed error.
#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_of_another_database_is_refused() {
    use sqlx::Connection;
    Space::run(Db::Postgres, |space| async move {
        let store = space.open().await;
        let mut sqlite = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .unwrap();
        let refused = store.insert_jobs_in(&mut sqlite, &[echo(1, 0)]).await;
        assert!(
            matches!(refused, Err(remote_core::Error::InvalidInput(_))),
            "{refused:?}"
        );
    })
    .await;
}

/// Adding keyed jobs looks up each key's holders on the index of holders, for one key as for a
/// batch of thousands: no scan of the table (R27). The digest column gives the planner the
/// statistics it reads no partial index's expression for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holders_of_keys_are_found_on_the_index() {
    Space::run(Db::Postgres, |space| async move {
        let store = space.open().await;
        space.fill(&store, 100_000, "'echo'", "'queued'").await;
        space
            .exec(
                &store,
                "UPDATE {jobs} SET unique_key = 'echo:' || id; ANALYZE {jobs}",
            )
            .await;
        let sql = store.query_text("job_conflicts").expect("the statement");
        assert_eq!(
            store.query_params("job_conflicts").unwrap(),
            ["ids", "keys"]
        );
        for n in [1, 5_000] {
            let keys: Vec<String> = (1..=n).map(|g| format!("echo:{g:024x}")).collect();
            let plan: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN {sql}"))
                .bind(vec![format!("{:024x}", 7)])
                .bind(&keys)
                .fetch_all(&pg_pool(&store))
                .await
                .unwrap();
            let plan = plan.join("\n");
            println!("holders of {n} keys:\n{plan}");
            assert!(
                plan.contains(&format!("Index Scan using {}jobs_unique", space.prefix()))
                    && !plan.contains("Seq Scan on"),
                "{n} keys found on the index of holders:\n{plan}"
            );
        }
    })
    .await;
}
