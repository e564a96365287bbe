//! Store-level tests on MariaDB/MySQL: the shared cases (`common::cases`), and what only this
//! dialect needs shown: times independent of the session's time zone, `mariadb://` URLs.
//!
//! Needs `REMOTE_TEST_MYSQL_URL` (`scripts/mariadb-env.sh` sets it, starting the local server).

mod common;

use common::cases::{echo, insert};
use common::{Db, Space};
use remote_core::{JobQuery, JobStore};

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
