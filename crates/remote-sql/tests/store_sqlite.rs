//! Store-level tests on SQLite: what the conformance suite cannot see.
//!
//! Index use of the claim, durability across reopening (R21), repeated and concurrent
//! migrations, isolation by prefix, `:memory:` databases, atomic scheduler takes across pools,
//! atomic claims across pools and across processes on one file, unreadable rows as store errors,
//! and option checks.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, TimeZone, Utc};
use common::sqlite_url;
use remote_core::{
    Claim, Error, ErrorRecord, Failure, Job, JobQuery, JobStatus, JobStore, LeaseToken,
    SchedulerItem, SchedulerStore, Take,
};
use remote_sql::{SqlOptions, SqlPool, SqlStore};
use serde_json::json;

/// Set in a child process of the cross-process test: the database it claims from.
const CHILD_DB: &str = "REMOTE_SQL_TEST_CHILD_DB";
/// Set in a child process: where it writes the ids it claimed.
const CHILD_OUT: &str = "REMOTE_SQL_TEST_CHILD_OUT";

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

/// Claims batches of `limit` until none are left; the ids claimed.
async fn drain(store: SqlStore, limit: usize) -> Vec<String> {
    let mut mine = Vec::new();
    loop {
        let got = claim(&store, 100, limit).await;
        if got.is_empty() {
            return mine;
        }
        mine.extend(got.into_iter().map(|j| j.id.to_string()));
    }
}

async fn open(url: &str) -> SqlStore {
    SqlStore::connect(url).await.expect("an SQLite store")
}

fn sqlite_pool(store: &SqlStore) -> sqlx::SqlitePool {
    match store.pool() {
        SqlPool::Sqlite(pool) => pool,
        other => panic!("not an SQLite store: {other:?}"),
    }
}

/// Mostly finished jobs, with or without statistics: the claim still walks the partial claim
/// index in pull order (no sort, no walk over finished jobs), so its cost does not grow with
/// the history the table keeps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_uses_the_claim_index_among_finished_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&sqlite_url(&dir, "history.db")).await;
    let pool = sqlite_pool(&store);
    sqlx::query(
        "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 20000) \
         INSERT INTO remote_jobs \
           (id, job_name, input, status, retry_counter, max_retries, retry_delay_ms, queued_at) \
         SELECT printf('%024x', n), 'echo', '{}', \
                CASE WHEN n <= 19000 THEN 'completed' ELSE 'queued' END, 0, 3, 10000, \
                1767225600000 + n \
         FROM g",
    )
    .execute(&pool)
    .await
    .expect("bulk insert");
    for analyzed in [false, true] {
        if analyzed {
            sqlx::query("ANALYZE")
                .execute(&pool)
                .await
                .expect("analyze");
        }
        let plan = store.explain_claim(&["echo".to_owned()], 8).await.unwrap();
        assert!(
            plan.contains("INDEX remote_jobs_claim") && !plan.contains("TEMP B-TREE"),
            "the claim walks the claim index in order (analyzed: {analyzed}):\n{plan}"
        );
    }
    let claimed = claim(&store, 3600, 3).await;
    let ids: Vec<String> = claimed.iter().map(|j| j.id.to_string()).collect();
    assert_eq!(
        ids,
        [19001, 19002, 19003]
            .iter()
            .map(|n| format!("{n:024x}"))
            .collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_uses_the_claim_index_on_100k_queued_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&sqlite_url(&dir, "big.db")).await;
    let pool = sqlite_pool(&store);
    // 125 000 rows: every 5th completed, so 100 000 queued; every 10th of another name.
    sqlx::query(
        "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 125000) \
         INSERT INTO remote_jobs \
           (id, job_name, input, status, retry_counter, max_retries, retry_delay_ms, queued_at) \
         SELECT printf('%024x', n), CASE WHEN n % 10 = 0 THEN 'other' ELSE 'echo' END, '{}', \
                CASE WHEN n % 5 = 0 THEN 'completed' ELSE 'queued' END, 0, 3, 10000, \
                1767225600000 + n \
         FROM g",
    )
    .execute(&pool)
    .await
    .expect("bulk insert");
    sqlx::query("ANALYZE")
        .execute(&pool)
        .await
        .expect("analyze");
    let queued = store.count_jobs().await.unwrap()[&JobStatus::Queued];
    assert_eq!(queued, 100_000);

    let plan = store.explain_claim(&["echo".to_owned()], 10).await.unwrap();
    println!("claim plan on {queued} queued jobs:\n{plan}");
    assert!(
        plan.contains("remote_jobs_claim"),
        "the claim uses the claim index:\n{plan}"
    );
    assert!(
        !plan.lines().any(|l| l.trim_end() == "SCAN remote_jobs"),
        "the claim never scans the jobs table:\n{plan}"
    );

    let started = Instant::now();
    let claimed = claim(&store, 3600, 10).await;
    println!("claimed 10 of 100 000 in {:?}", started.elapsed());
    let expected: Vec<String> = [1, 2, 3, 4, 6, 7, 8, 9, 11, 12]
        .iter()
        .map(|n| format!("{n:024x}"))
        .collect();
    let got: Vec<&str> = claimed.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(got, expected, "the oldest queued echo jobs, in pull order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_errors_and_items_survive_closing_and_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir, "durable.db");
    let store = open(&url).await;
    let jobs = vec![echo(1, 0), echo(2, 1), echo(3, 2)];
    store.insert_jobs(&jobs).await.unwrap();
    let claimed = claim(&store, 10, 2).await;
    let (done, failed) = (&claimed[0], &claimed[1]);
    let token = |j: &Job| j.lease_token.expect("claimed");
    assert!(store
        .complete_job(&done.id, token(done), &json!({"ok": "✓"}), t(11))
        .await
        .unwrap());
    let record = ErrorRecord::new(1, "boom\0: the cause", t(12));
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
    let pool = sqlite_pool(&store);
    drop(store);
    pool.close().await;

    let reopened = open(&url).await;
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_run_twice_and_concurrently_without_harm() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir, "migrate.db");
    let (a, b, c) = tokio::join!(open(&url), open(&url), open(&url));
    a.insert_jobs(&[echo(1, 0)]).await.unwrap();
    a.migrate().await.unwrap();
    b.migrate().await.unwrap();
    assert_eq!(c.list_jobs(&JobQuery::default()).await.unwrap().len(), 1);
    let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM remote_migrations")
        .fetch_all(&sqlite_pool(&a))
        .await
        .unwrap();
    assert_eq!(versions, [1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefixes_do_not_see_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir, "shared.db");
    let with_prefix = |prefix: &'static str| {
        let url = url.clone();
        async move {
            SqlOptions::new()
                .table_prefix(prefix)
                .connect(&url)
                .await
                .expect("store")
        }
    };
    let a = with_prefix("app_a_").await;
    let b = with_prefix("app_b_").await;
    a.insert_jobs(&[echo(1, 0)]).await.unwrap();
    a.insert_item(&SchedulerItem::delay("echo", 5).with_next_call_time(t(5)))
        .await
        .unwrap();
    assert!(b.list_jobs(&JobQuery::default()).await.unwrap().is_empty());
    assert!(b.list_items().await.unwrap().is_empty());
    assert!(claim(&b, 100, 10).await.is_empty());
    assert_eq!(claim(&a, 100, 10).await.len(), 1);

    let unmigrated = SqlOptions::new()
        .table_prefix("later_")
        .run_migrations(false)
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_databases_work_under_concurrent_claims() {
    for url in ["sqlite::memory:", "sqlite://:memory:"] {
        let store = open(url).await;
        let jobs: Vec<Job> = (0..200).map(|n| echo(n, n % 20)).collect();
        store.insert_jobs(&jobs).await.unwrap();
        let workers: Vec<_> = (0..4)
            .map(|_| tokio::spawn(drain(store.clone(), 3)))
            .collect();
        let mut all = Vec::new();
        for worker in workers {
            all.extend(worker.await.expect("claimer"));
        }
        assert_eq!(all.len(), 200, "{url}: every job claimed");
        assert_eq!(all.iter().collect::<HashSet<_>>().len(), 200, "{url}: once");
        assert!(
            store.wakeups().is_none(),
            "SQLite has no cross-process wake-ups"
        );
    }
    let a = open("sqlite::memory:").await;
    let b = open("sqlite::memory:").await;
    a.insert_jobs(&[echo(1, 0)]).await.unwrap();
    assert!(
        b.list_jobs(&JobQuery::default()).await.unwrap().is_empty(),
        "each :memory: store is its own database"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pools_claiming_at_once_hand_out_each_job_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir, "busy.db");
    let a = open(&url).await;
    let b = open(&url).await;
    let jobs: Vec<Job> = (0..600).map(|n| echo(n, n % 50)).collect();
    a.insert_jobs(&jobs).await.unwrap();
    let workers: Vec<_> = [a.clone(), b.clone(), a, b]
        .into_iter()
        .map(|store| tokio::spawn(drain(store, 7)))
        .collect();
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.expect("claimer"));
    }
    assert_eq!(all.len(), 600, "every job claimed");
    assert_eq!(
        all.iter().collect::<HashSet<_>>().len(),
        600,
        "no job claimed twice"
    );
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
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir, "items.db");
    race_for_one_occurrence(open(&url).await, open(&url).await).await;
}

/// Runs as the parent (no `CHILD_DB`): fills a file, starts two copies of this test binary
/// claiming from it while claiming here too, and checks each job went to exactly one claimer.
/// Runs as a child (with `CHILD_DB`): claims until the queue is empty and writes its ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_claiming_one_file_hand_out_each_job_once() {
    if let Ok(url) = std::env::var(CHILD_DB) {
        let store = open(&url).await;
        let ids = drain(store, 5).await;
        let out = std::env::var(CHILD_OUT).expect("the child's output file");
        std::fs::write(out, ids.join("\n")).expect("write the claimed ids");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir, "shared.db");
    let store = open(&url).await;
    let jobs: Vec<Job> = (0..1500).map(|n| echo(n, n % 100)).collect();
    store.insert_jobs(&jobs).await.unwrap();

    let exe = std::env::current_exe().expect("the test binary");
    let outputs: Vec<_> = (0..2)
        .map(|i| dir.path().join(format!("child-{i}.txt")))
        .collect();
    let children: Vec<_> = outputs
        .iter()
        .map(|out| {
            std::process::Command::new(&exe)
                .args([
                    "--exact",
                    "processes_claiming_one_file_hand_out_each_job_once",
                    "--test-threads=1",
                ])
                .env(CHILD_DB, &url)
                .env(CHILD_OUT, out)
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("a child test process")
        })
        .collect();
    let mut all = drain(store, 5).await;
    for mut child in children {
        let status = tokio::task::spawn_blocking(move || child.wait())
            .await
            .expect("waiting")
            .expect("the child ran");
        assert!(status.success(), "a child process failed: {status}");
    }
    let mut per_process = vec![all.len()];
    for out in &outputs {
        let text = std::fs::read_to_string(out).expect("the child's ids");
        let ids: Vec<String> = text.lines().map(str::to_owned).collect();
        per_process.push(ids.len());
        all.extend(ids);
    }
    println!("claims per process: {per_process:?}");
    assert_eq!(all.len(), 1500, "every job claimed");
    assert_eq!(
        all.iter().collect::<HashSet<_>>().len(),
        1500,
        "no job claimed twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_rows_are_store_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&sqlite_url(&dir, "bad.db")).await;
    let pool = sqlite_pool(&store);
    sqlx::query(
        "INSERT INTO remote_jobs \
           (id, job_name, input, status, retry_counter, max_retries, retry_delay_ms, queued_at) \
         VALUES ('0123456789abcdef01234567', 'echo', '{not json', 'queued', 0, 3, 10, 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO remote_items (id, job_name, input, active, retry_delay_ms, schedule) \
         VALUES ('not-an-id', 'echo', 'null', 1, 10, '{\"kind\": \"delay\", \"delay\": 5}')",
    )
    .execute(&pool)
    .await
    .unwrap();
    let jobs = store.list_jobs(&JobQuery::default()).await;
    assert!(matches!(jobs, Err(Error::Store { .. })), "{jobs:?}");
    let claimed = store
        .claim_jobs(&Claim {
            names: &["echo".to_owned()],
            now: t(100),
            lease_until: t(130),
            token: LeaseToken(1),
            limit: 5,
        })
        .await;
    assert!(matches!(claimed, Err(Error::Store { .. })), "{claimed:?}");
    let items = store.list_items().await;
    assert!(matches!(items, Err(Error::Store { .. })), "{items:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_urls_and_options_are_typed_errors() {
    for prefix in ["a-b", "x\"; DROP TABLE t; --", "9lives"] {
        let refused = SqlOptions::new()
            .table_prefix(prefix)
            .connect("sqlite::memory:")
            .await;
        assert!(
            matches!(refused, Err(Error::InvalidInput(_))),
            "{prefix}: {refused:?}"
        );
    }
    let refused = SqlOptions::new()
        .schema("")
        .connect("sqlite::memory:")
        .await;
    assert!(
        matches!(refused, Err(Error::InvalidInput(_))),
        "{refused:?}"
    );
    let refused = SqlStore::connect("mysql://localhost/db").await;
    assert!(
        matches!(refused, Err(Error::InvalidInput(_))),
        "{refused:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let missing = format!("sqlite://{}", dir.path().join("absent.db").display());
    let refused = SqlStore::connect(&missing).await;
    assert!(
        matches!(refused, Err(ref e) if e.is_store()),
        "a file that does not exist without mode=rwc: {refused:?}"
    );
}
