//! Store-level tests on MariaDB/MySQL: the shared cases (`common::cases`), and what only this
//! dialect needs shown: times independent of the session's time zone, `mariadb://` URLs, batch
//! statements that reach each row by its key, claims that run again after losing a deadlock.
//!
//! Needs `REMOTE_TEST_MYSQL_URL` (`scripts/mariadb-env.sh` sets it, starting the local server).

mod common;

use common::cases::{claim, claim_as, echo, insert, t};
use common::{Db, Space};
use conformance_tests::calls::{completion, token};
use remote_core::{JobQuery, JobStore, Outcome};
use serde_json::{json, Value};

every_dialects_cases!(Db::MySql);
store_cases!(Db::MySql; times_do_not_depend_on_the_session_time_zone);

/// `mariadb://` URLs open the same store as `mysql://` ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_urls_are_mysql_urls() {
    Space::run(Db::MySql, |space| async move {
        let url = space.url().replacen("mysql://", "mariadb://", 1);
        assert!(url.starts_with("mariadb://"), "{url}");
        let store = space
            .options()
            .connect(&url)
            .await
            .expect("a mariadb:// store");
        insert(&store, &[echo(1, 0)]).await;
        let other = space.open().await;
        assert_eq!(
            other.list_jobs(&JobQuery::default()).await.unwrap().len(),
            1
        );
    })
    .await;
}

/// A job name longer than its column (64 KiB) is refused with a store error, never cut short.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_too_long_for_their_column_are_refused() {
    Space::run(Db::MySql, |space| async move {
        let store = space.open().await;
        let mut job = echo(1, 0);
        job.job_name = "n".repeat(70_000);
        let refused = remote_core::JobStore::insert_jobs(
            &store,
            &remote_core::InsertJobs {
                jobs: &[job],
                on_conflict: remote_core::OnConflict::Refuse,
            },
        )
        .await;
        assert!(matches!(refused, Err(ref e) if e.is_store()), "{refused:?}");
        assert!(store
            .list_jobs(&JobQuery::default())
            .await
            .unwrap()
            .is_empty());
    })
    .await;
}

/// The tables a plan (`EXPLAIN FORMAT=JSON`) joins, in join order, each as its name, access
/// type, key and table function (`json_table` for the entries' rows).
fn joined(plan: &Value) -> Vec<[String; 4]> {
    let steps = match &plan["query_block"]["nested_loop"] {
        Value::Array(steps) => steps.clone(),
        _ => vec![plan["query_block"].clone()],
    };
    steps
        .iter()
        .map(|step| {
            ["table_name", "access_type", "key", "table_function"]
                .map(|field| step["table"][field].as_str().unwrap_or_default().to_owned())
        })
        .collect()
}

/// The locking reads and updates of batched outcomes, lease renewals and takes walk the
/// entries' rows and reach each job or item by primary key, whatever the table holds: a
/// batch never scans the table or an index of statuses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_reach_each_row_by_primary_key() {
    Space::run(Db::MySql, |space| async move {
        let store = space.open().await;
        space.fill(&store, 10_000, "'echo'", "'queued'").await;
        let claimed = claim(&store, 3600, 10).await;
        assert_eq!(claimed.len(), 10);
        let rows: Vec<Value> = claimed
            .iter()
            .map(|job| {
                json!({
                    "id": job.id.as_str(),
                    "token": job.lease_token.expect("a claimed job's token").as_i64(),
                    "now": t(3601).timestamp_millis(),
                    "kind": "completed",
                    "output": "null",
                    "expected_next_call_time": t(3600).timestamp_millis(),
                    "expected_locked_until": t(3601).timestamp_millis(),
                    "next_call_time": t(3700).timestamp_millis(),
                    "locked_until": t(3700).timestamp_millis(),
                })
            })
            .collect();
        let rows = Value::Array(rows).to_string();
        let pool = match store.pool() {
            remote_sql::SqlPool::MySql(pool) => pool,
            other => panic!("not a MySQL store: {other:?}"),
        };
        for (name, table) in [
            ("pick_outcomes", "j"),
            ("record_outcomes", "j"),
            ("pick_leases", "j"),
            ("renew_leases", "j"),
            ("pick_takes", "i"),
            ("take_items", "i"),
        ] {
            let explain = format!(
                "EXPLAIN FORMAT=JSON {}",
                store.query_text(name).expect(name)
            );
            let mut query = sqlx::query_scalar::<_, String>(&explain);
            for param in store.query_params(name).expect(name) {
                query = match param.as_str() {
                    "rows" => query.bind(rows.clone()),
                    "rescue" => query.bind(false),
                    "lease_until" => query.bind(t(3700).timestamp_millis()),
                    other => panic!("{name} has a parameter this test does not know: {other}"),
                };
            }
            let text = query.fetch_one(&pool).await.unwrap();
            let plan: Value = serde_json::from_str(&text).unwrap();
            let tables = joined(&plan);
            assert_eq!(
                tables.first().map(|[.., function]| function.as_str()),
                Some("json_table"),
                "{name} starts from the entries' rows:\n{text}"
            );
            assert!(
                tables.iter().any(|[n, access, key, _]| n == table
                    && access == "eq_ref"
                    && key == "PRIMARY"),
                "{name} reaches each row by primary key:\n{text}"
            );
        }
    })
    .await;
}

/// A batch that loses a deadlock runs again rather than failing: the database rolled all of
/// it back, so nothing is applied twice. Here another transaction holds the second job of a
/// batch of outcomes, waits for the first, which the batch's locking read holds, and has
/// written, so MariaDB rolls the batch back. (Three schedulers firing 3 000 items met such
/// deadlocks between a claim's locking read and a batch of takes a few times in twenty runs,
/// each time failing a firing pass.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_loses_a_deadlock_runs_again() {
    Space::run(Db::MySql, |space| async move {
        let store = space.open().await;
        insert(&store, &[echo(1, 0), echo(2, 1), echo(3, 2)]).await;
        let claimed = claim_as(&store, 10, 3, token(7)).await;
        let ids: Vec<&str> = claimed.iter().map(|j| j.id.as_str()).collect();
        let jobs = space.table("jobs");
        // One connection each, so that the other transaction stays on its connection.
        let url = space.url();
        let one = || {
            sqlx::mysql::MySqlPoolOptions::new()
                .max_connections(1)
                .connect(&url)
        };
        let (other, watch) = (one().await.unwrap(), one().await.unwrap());
        sqlx::raw_sql("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED; START TRANSACTION")
            .execute(&other)
            .await
            .unwrap();
        let write = format!("UPDATE {jobs} SET max_attempts = max_attempts + 1 WHERE id = ?");
        sqlx::query(&write)
            .bind(ids[2])
            .execute(&other)
            .await
            .unwrap();
        let hold = format!("SELECT id FROM {jobs} WHERE id = ? FOR UPDATE");
        sqlx::query(&hold)
            .bind(ids[1])
            .execute(&other)
            .await
            .unwrap();

        let batch: Vec<Outcome> = ids[..2]
            .iter()
            .map(|id| completion(&id.parse().unwrap(), token(7), json!(id), t(11)))
            .collect();
        let recorder = store.clone();
        let recording = tokio::spawn(async move { recorder.record_outcomes(&batch).await });
        // The process list, not INNODB_TRX: that table is a cache, which polling can keep from
        // ever showing the wait.
        let waiting = "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
                       WHERE ID <> CONNECTION_ID() AND TIME_MS > 100 \
                       AND INFO LIKE 'SELECT j.id FROM JSON_TABLE%FOR UPDATE'";
        let mut waits = 0;
        for _ in 0..500 {
            waits = sqlx::query_scalar::<_, i64>(waiting)
                .fetch_one(&watch)
                .await
                .unwrap();
            if waits > 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(waits, 1, "the batch waits for the second job");
        sqlx::query(&hold)
            .bind(ids[0])
            .execute(&other)
            .await
            .expect("the other transaction wins the deadlock");
        sqlx::raw_sql("COMMIT").execute(&other).await.unwrap();

        let applied = recording.await.unwrap().expect("the batch runs again");
        assert_eq!(applied, [true, true]);
        for id in &ids[..2] {
            let job = store.get_job(&id.parse().unwrap()).await.unwrap().unwrap();
            assert_eq!(job.output, Some(json!(id)));
        }
    })
    .await;
}
