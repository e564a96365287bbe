//! Store-level tests on SQLite: the shared cases (`common::cases`), and what only SQLite has:
//! `:memory:` databases, claims from several processes on one file, the schema of the previous
//! release migrated.

mod common;

use std::collections::HashSet;

use common::cases::{drain, each_once, echo, insert};
use common::{Db, Space};
use remote_core::{JobQuery, JobStore};
use remote_sql::SqlStore;

every_dialects_cases!(Db::Sqlite);
store_cases!(Db::Sqlite; data_of_the_previous_release_is_read_and_claimed);

/// Set in a child process of the cross-process test: the database it claims from.
const CHILD_DB: &str = "REMOTE_SQL_TEST_CHILD_DB";
/// Set in a child process: where it writes the ids it claimed.
const CHILD_OUT: &str = "REMOTE_SQL_TEST_CHILD_OUT";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_databases_work_under_concurrent_claims() {
    for url in ["sqlite::memory:", "sqlite://:memory:"] {
        let store = SqlStore::connect(url).await.expect("an in-memory store");
        let jobs: Vec<_> = (0..200).map(|n| echo(n, n % 20)).collect();
        insert(&store, &jobs).await;
        let workers: Vec<_> = (0..4)
            .map(|_| tokio::spawn(drain(store.clone(), 3)))
            .collect();
        each_once(workers, 200, &format!("{url} job")).await;
        assert!(
            store.wakeups().is_none(),
            "SQLite has no cross-process wake-ups"
        );
    }
    let a = SqlStore::connect("sqlite::memory:").await.unwrap();
    let b = SqlStore::connect("sqlite::memory:").await.unwrap();
    insert(&a, &[echo(1, 0)]).await;
    assert!(
        b.list_jobs(&JobQuery::default()).await.unwrap().is_empty(),
        "each :memory: store is its own database"
    );
}

/// Runs as the parent (no `CHILD_DB`): fills a file, starts two copies of this test binary
/// claiming from it while claiming here too, and checks each job went to exactly one claimer.
/// Runs as a child (with `CHILD_DB`): claims until the queue is empty and writes its ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_claiming_one_file_hand_out_each_job_once() {
    if let Ok(url) = std::env::var(CHILD_DB) {
        let store = SqlStore::connect(&url).await.expect("the shared file");
        let ids: Vec<String> = drain(store, 5)
            .await
            .iter()
            .map(|id| id.to_string())
            .collect();
        let out = std::env::var(CHILD_OUT).expect("the child's output file");
        std::fs::write(out, ids.join("\n")).expect("write the claimed ids");
        return;
    }
    let space = Space::new(Db::Sqlite);
    let url = space.url();
    let store = space.open().await;
    let jobs: Vec<_> = (0..1500).map(|n| echo(n, n % 100)).collect();
    insert(&store, &jobs).await;

    let exe = std::env::current_exe().expect("the test binary");
    let dir = tempfile::tempdir().expect("a directory for the children's ids");
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
    let mut all: Vec<String> = drain(store, 5)
        .await
        .iter()
        .map(|id| id.to_string())
        .collect();
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
async fn a_missing_file_without_mode_rwc_is_a_store_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = format!("sqlite://{}", dir.path().join("absent.db").display());
    let refused = SqlStore::connect(&missing).await;
    assert!(matches!(refused, Err(ref e) if e.is_store()), "{refused:?}");
}

/// Set in a child process of the opening test: the new file it opens.
const CHILD_OPEN: &str = "REMOTE_SQL_TEST_CHILD_OPEN";

/// Processes started together on a file that does not exist yet (a worker and an operator
/// command, say) all open it: the one switching it to WAL or migrating it holds it for a
/// moment, and the others wait for it instead of failing with "database is locked".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_opening_a_new_file_at_once_all_open_it() {
    if let Ok(url) = std::env::var(CHILD_OPEN) {
        let store = SqlStore::connect(&url)
            .await
            .expect("the child opens the new file");
        insert(&store, &[echo(i64::from(std::process::id()), 0)]).await;
        return;
    }
    let exe = std::env::current_exe().expect("the test binary");
    for round in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join(format!("new-{round}.db")).display()
        );
        let children: Vec<_> = (0..4)
            .map(|_| {
                std::process::Command::new(&exe)
                    .args([
                        "--exact",
                        "processes_opening_a_new_file_at_once_all_open_it",
                        "--test-threads=1",
                    ])
                    .env(CHILD_OPEN, &url)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("a child test process")
            })
            .collect();
        let store = SqlStore::connect(&url)
            .await
            .expect("the parent opens the new file");
        for child in children {
            let out = tokio::task::spawn_blocking(move || child.wait_with_output())
                .await
                .expect("waiting")
                .expect("the child ran");
            assert!(
                out.status.success(),
                "a child could not open the new file: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let counts = store.count_jobs().await.unwrap();
        assert_eq!(counts.values().sum::<u64>(), 4, "one job from each child");
    }
}

/// Each statement of a batch over JSON rows finds its rows by id, one look-up per entry: with
/// the status indexes usable, SQLite's planner walked every processing job and scanned the
/// batch's rows for each (a batch of 500 outcomes beside 2,000 processing jobs took 600 ms
/// instead of 3 ms).
#[tokio::test]
async fn batches_over_json_rows_look_their_rows_up_by_id() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("plan.db").display());
    let store = SqlStore::connect(&url).await.expect("a file store");
    let jobs: Vec<_> = (0..300).map(|n| echo(n, n % 3)).collect();
    insert(&store, &jobs).await;
    let remote_sql::SqlPool::Sqlite(pool) = store.pool() else {
        panic!("an SQLite pool");
    };
    for name in [
        "record_outcomes",
        "release_jobs",
        "renew_leases",
        "take_items",
    ] {
        let sql = store.query_text(name).expect(name);
        let mut query = sqlx::query(Box::leak(
            format!("EXPLAIN QUERY PLAN {sql}").into_boxed_str(),
        ));
        for param in store.query_params(name).expect(name) {
            query = match param.as_str() {
                "rows" => query.bind("[]"),
                _ => query.bind(0_i64),
            };
        }
        let plan: Vec<String> = query
            .fetch_all(&pool)
            .await
            .expect(name)
            .iter()
            .map(|row| sqlx::Row::get::<String, _>(row, "detail"))
            .collect();
        assert!(
            plan.first().is_some_and(|step| step.contains("json_each")),
            "{name} starts from the batch's rows: {plan:?}"
        );
        assert!(
            plan.iter().skip(1).all(|step| step.contains("(id=?)")),
            "{name} finds each row by id: {plan:?}"
        );
    }
}

/// Claims and outcomes change `status` on every job they touch, so no index may hold every job
/// by status: each took a delete and an insert per claim and per outcome on the file's one
/// writer. Counting still reads no row: every count is taken off an index.
#[tokio::test]
async fn statuses_are_counted_off_indexes_that_claims_and_outcomes_leave_alone() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("count.db").display()
    );
    let store = SqlStore::connect(&url).await.expect("a file store");
    let remote_sql::SqlPool::Sqlite(pool) = store.pool() else {
        panic!("an SQLite pool");
    };
    let indexes: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name LIKE '%jobs'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let by_status: Vec<_> = indexes
        .iter()
        .filter(|(_, sql)| sql.as_deref().is_some_and(|s| s.contains("(status")))
        .collect();
    assert!(!by_status.is_empty(), "an index by status: {indexes:?}");
    for (name, sql) in by_status {
        let sql = sql.as_deref().unwrap_or_default();
        assert!(
            sql.contains("WHERE status IN ('error', 'cancelled')"),
            "{name} holds only failed and cancelled jobs: {sql}"
        );
    }

    let sql = store.query_text("count_jobs").expect("count_jobs");
    let plan: Vec<String> = sqlx::query(Box::leak(
        format!("EXPLAIN QUERY PLAN {sql}").into_boxed_str(),
    ))
    .fetch_all(&pool)
    .await
    .unwrap()
    .iter()
    .map(|row| sqlx::Row::get::<String, _>(row, "detail"))
    .collect();
    let reads: Vec<_> = plan.iter().filter(|step| step.contains("jobs")).collect();
    assert_eq!(reads.len(), 4, "four counts: {plan:?}");
    assert!(
        reads.iter().all(|step| step.contains(" INDEX ")),
        "every count reads an index: {plan:?}"
    );
}
