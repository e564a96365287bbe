//! What the test binaries share: where each database is, an isolated place per test (a
//! PostgreSQL schema, a MySQL table prefix, an SQLite file), raw SQL on a store's tables, and
//! the store tests every dialect runs (`cases`).

#![allow(dead_code, unused_imports, unused_macros)]
// Built for one dialect, the arms of the others are left out and what follows a `panic!` arm
// may be all there is.
#![allow(unreachable_code, unused_variables)]

pub(crate) mod cases;

use std::future::Future;
use std::sync::{Arc, OnceLock};

use conformance_tests::{StoreFactory, TestStore};
use remote_sql::{SqlOptions, SqlPool, SqlStore};

/// The variable naming the PostgreSQL server the tests use.
pub(crate) const POSTGRES_URL_VAR: &str = "REMOTE_TEST_POSTGRES_URL";
/// The variable naming the MariaDB/MySQL server the tests use.
pub(crate) const MYSQL_URL_VAR: &str = "REMOTE_TEST_MYSQL_URL";

/// A database the tests run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Db {
    Postgres,
    Sqlite,
    MySql,
}

/// The PostgreSQL test server's URL: `REMOTE_TEST_POSTGRES_URL`, else a container (feature
/// `testcontainers`), else a panic saying how to provide one. Never a silent skip.
pub(crate) fn postgres_url() -> String {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| match std::env::var(POSTGRES_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => url,
        _ => start_container(),
    })
    .clone()
}

#[cfg(feature = "testcontainers")]
fn start_container() -> String {
    use testcontainers_modules::postgres::Postgres;
    use testcontainers_modules::testcontainers::runners::SyncRunner;
    use testcontainers_modules::testcontainers::Container;

    static CONTAINER: OnceLock<Container<Postgres>> = OnceLock::new();
    // The blocking runner brings its own runtime, so it must not run on a test's runtime thread.
    std::thread::spawn(|| {
        let container = CONTAINER.get_or_init(|| {
            Postgres::default().start().unwrap_or_else(|e| {
                panic!(
                    "{POSTGRES_URL_VAR} is not set and no postgres container could be started \
                     ({e}); set {POSTGRES_URL_VAR}=postgres://user@host:5432/database"
                )
            })
        });
        let port = container
            .get_host_port_ipv4(5432)
            .unwrap_or_else(|e| panic!("the postgres container exposes no port: {e}"));
        format!("postgres://postgres:postgres@127.0.0.1:{port}/postgres")
    })
    .join()
    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

#[cfg(not(feature = "testcontainers"))]
fn start_container() -> String {
    panic!(
        "the PostgreSQL tests need a server: set {POSTGRES_URL_VAR}, e.g. \
         {POSTGRES_URL_VAR}=postgres://postgres@127.0.0.1:5432/test (a database where the user \
         may create schemas), or enable the `testcontainers` feature with a Docker engine running"
    )
}

/// The MariaDB/MySQL test server's URL: `REMOTE_TEST_MYSQL_URL`, else a panic saying how to
/// provide one.
pub(crate) fn mysql_url() -> String {
    match std::env::var(MYSQL_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "the MySQL tests need a server: set {MYSQL_URL_VAR}, e.g. \
             {MYSQL_URL_VAR}=mysql://root@127.0.0.1:3306/test, or source scripts/mariadb-env.sh, \
             which starts the local MariaDB and sets it"
        ),
    }
}

/// A name no other test uses.
pub(crate) fn unique_name() -> String {
    format!("remote_test_{:016x}", rand::random::<u64>())
}

/// One test's own place in a database: a schema (PostgreSQL), a table prefix (MySQL) or a
/// file (SQLite). Clones share it.
#[derive(Clone, Debug)]
pub(crate) struct Space {
    pub db: Db,
    /// The PostgreSQL schema, or the MySQL table prefix's stem.
    pub name: String,
    dir: Option<Arc<tempfile::TempDir>>,
    file: &'static str,
}

impl Space {
    /// A fresh place in `db`.
    pub(crate) fn new(db: Db) -> Self {
        let dir = (db == Db::Sqlite)
            .then(|| Arc::new(tempfile::tempdir().expect("a temporary directory")));
        Self {
            db,
            name: unique_name(),
            dir,
            file: "remote.db",
        }
    }

    /// Another place beside this one, dropped with it.
    pub(crate) fn sibling(&self) -> Self {
        Self {
            name: format!("{}_b", self.name),
            file: "sibling.db",
            ..self.clone()
        }
    }

    /// Runs `body` in a fresh place of `db`, then drops the place, whether the body passed or
    /// panicked.
    pub(crate) async fn run<F, Fut>(db: Db, body: F)
    where
        F: FnOnce(Space) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let space = Space::new(db);
        let outcome = tokio::spawn(body(space.clone())).await;
        space.clean_up().await;
        if let Err(failure) = outcome {
            match failure.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(failure) => panic!("the test task failed: {failure}"),
            }
        }
    }

    /// The URL of the database (SQLite: a file `name` in the place's directory).
    pub(crate) fn url_of(&self, file: &str) -> String {
        match self.db {
            Db::Postgres => postgres_url(),
            Db::MySql => mysql_url(),
            Db::Sqlite => {
                let dir = self.dir.as_ref().expect("an SQLite place has a directory");
                format!("sqlite://{}?mode=rwc", dir.path().join(file).display())
            }
        }
    }

    /// The URL of the place's database.
    pub(crate) fn url(&self) -> String {
        self.url_of(self.file)
    }

    /// The table prefix of the place's stores.
    pub(crate) fn prefix(&self) -> String {
        match self.db {
            Db::MySql => format!("{}_", self.name),
            _ => "remote_".to_owned(),
        }
    }

    /// Options putting a store in this place, with a small pool (many tests run at once).
    pub(crate) fn options(&self) -> SqlOptions {
        let options = SqlOptions::new()
            .max_connections(4)
            .table_prefix(self.prefix());
        match self.db {
            Db::Postgres => options.schema(self.name.clone()),
            _ => options,
        }
    }

    /// A store in this place.
    pub(crate) async fn open(&self) -> SqlStore {
        self.open_with(self.options()).await
    }

    /// A store in this place under another table prefix, this place's prefix followed by
    /// `suffix`, migrated.
    pub(crate) async fn open_beside(&self, suffix: &str) -> SqlStore {
        self.open_with(
            self.options()
                .table_prefix(format!("{}{suffix}", self.prefix())),
        )
        .await
    }

    /// A store in this place with `options`.
    pub(crate) async fn open_with(&self, options: SqlOptions) -> SqlStore {
        options
            .connect(&self.url())
            .await
            .unwrap_or_else(|e| panic!("cannot open a {:?} store: {e}", self.db))
    }

    /// A store in this place whose sessions run in a time zone far from UTC (+13:00 or a zone
    /// near it).
    pub(crate) async fn open_far_from_utc(&self) -> SqlStore {
        let pool: SqlPool = match self.db {
            #[cfg(feature = "postgres")]
            Db::Postgres => {
                use std::str::FromStr;
                let options = sqlx::postgres::PgConnectOptions::from_str(&postgres_url())
                    .expect("test URL")
                    .options([("TimeZone", "Pacific/Kiritimati")]);
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(2)
                    .connect_with(options)
                    .await
                    .expect("a pool")
                    .into()
            }
            #[cfg(feature = "mysql")]
            Db::MySql => {
                use sqlx::Executor;
                use std::str::FromStr;
                let options = sqlx::mysql::MySqlConnectOptions::from_str(&mysql_url())
                    .expect("test URL")
                    .timezone(None);
                sqlx::mysql::MySqlPoolOptions::new()
                    .max_connections(2)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute("SET time_zone = '+13:00'").await.map(|_| ())
                        })
                    })
                    .connect_with(options)
                    .await
                    .expect("a pool")
                    .into()
            }
            other => panic!("{other:?} has no session time zone"),
        };
        self.options()
            .listen(false)
            .from_pool(pool)
            .await
            .expect("a store")
    }

    /// The quoted name of `table` in this place (`jobs`, `errors`, `items`, `migrations`,
    /// `paused`, `leaders`).
    pub(crate) fn table(&self, table: &str) -> String {
        match self.db {
            Db::Postgres => format!("\"{}\".remote_{table}", self.name),
            Db::Sqlite => format!("remote_{table}"),
            Db::MySql => format!("`{}{table}`", self.prefix()),
        }
    }

    /// `sql` with `{jobs}`, `{errors}`, `{items}`, `{migrations}`, `{paused}` and `{leaders}`
    /// named for this place.
    pub(crate) fn render(&self, sql: &str) -> String {
        ["jobs", "errors", "items", "migrations", "paused", "leaders"]
            .iter()
            .fold(sql.to_owned(), |sql, t| {
                sql.replace(&format!("{{{t}}}"), &self.table(t))
            })
            .replace("{prefix}", &self.prefix())
            .replace(
                "{schema}",
                &match self.db {
                    Db::Postgres => format!("\"{}\".", self.name),
                    _ => String::new(),
                },
            )
    }

    /// The migration versions recorded in this place.
    pub(crate) async fn versions(&self, store: &SqlStore) -> Vec<i64> {
        let sql = self.render("SELECT version FROM {migrations} ORDER BY version");
        let versions: sqlx::Result<Vec<i64>> = match store.pool() {
            #[cfg(feature = "postgres")]
            SqlPool::Postgres(pool) => sqlx::query_scalar(&sql).fetch_all(&pool).await,
            #[cfg(feature = "sqlite")]
            SqlPool::Sqlite(pool) => sqlx::query_scalar(&sql).fetch_all(&pool).await,
            #[cfg(feature = "mysql")]
            SqlPool::MySql(pool) => sqlx::query_scalar(&sql).fetch_all(&pool).await,
            other => panic!("no such pool in the tests: {other:?}"),
        };
        versions.unwrap_or_else(|e| panic!("cannot read the migrations: {e}"))
    }

    /// Runs raw SQL (one or more statements, table names in braces) on `store`'s pool.
    pub(crate) async fn exec(&self, store: &SqlStore, sql: &str) {
        let sql = self.render(sql);
        let done: sqlx::Result<()> = match store.pool() {
            #[cfg(feature = "postgres")]
            SqlPool::Postgres(pool) => sqlx::raw_sql(&sql).execute(&pool).await.map(|_| ()),
            #[cfg(feature = "sqlite")]
            SqlPool::Sqlite(pool) => sqlx::raw_sql(&sql).execute(&pool).await.map(|_| ()),
            #[cfg(feature = "mysql")]
            SqlPool::MySql(pool) => sqlx::raw_sql(&sql).execute(&pool).await.map(|_| ()),
            other => panic!("no such pool in the tests: {other:?}"),
        };
        done.unwrap_or_else(|e| panic!("raw SQL failed: {e}\n{sql}"));
    }

    /// Inserts jobs 1..=n server-side, queued one millisecond apart from 2026-01-01 in id
    /// order (ids are the number in 24 hex digits); `name` and `status` are SQL expressions
    /// of the row number `g`. Then gives the database statistics of the table.
    pub(crate) async fn fill(&self, store: &SqlStore, n: u64, name: &str, status: &str) {
        self.fill_with(store, n, name, status, "0").await;
    }

    /// [`fill`](Self::fill), with priorities: `priority` is an SQL expression of `g`.
    pub(crate) async fn fill_with(
        &self,
        store: &SqlStore,
        n: u64,
        name: &str,
        status: &str,
        priority: &str,
    ) {
        let columns = "(id, job_name, input, status, attempt, max_attempts, retry_delay_ms, \
                       queued_at, priority)";
        let sql = match self.db {
            Db::Postgres => format!(
                "INSERT INTO {{jobs}} {columns} \
                 SELECT lpad(to_hex(g), 24, '0'), {name}, 'null', {status}, 0, 3, 10000, \
                        timestamptz '2026-01-01 00:00:00+00' + g * interval '1 millisecond', \
                        {priority} \
                 FROM generate_series(1, {n}) AS g"
            ),
            Db::Sqlite => format!(
                "WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {n}) \
                 INSERT INTO {{jobs}} {columns} \
                 SELECT printf('%024x', g), {name}, 'null', {status}, 0, 3, 10000, \
                        1767225600000 + g, {priority} FROM s"
            ),
            Db::MySql => format!(
                "INSERT INTO {{jobs}} {columns} \
                 SELECT LPAD(LOWER(HEX(g)), 24, '0'), {name}, 'null', {status}, 0, 3, 10000, \
                        1767225600000 + g, {priority} FROM (SELECT seq AS g FROM seq_1_to_{n}) AS s"
            ),
        };
        self.exec(store, &sql).await;
        self.analyze(store).await;
    }

    /// Gives the database fresh statistics of the jobs table.
    pub(crate) async fn analyze(&self, store: &SqlStore) {
        let sql = match self.db {
            Db::Postgres => "VACUUM ANALYZE {jobs}",
            Db::Sqlite => "ANALYZE",
            Db::MySql => "ANALYZE TABLE {jobs}",
        };
        self.exec(store, sql).await;
    }

    /// Checks that the plan of a claim of `limit` `echo` jobs walks the claim index in pull
    /// order (no scan of the table, no sort); prints it, saying on what.
    pub(crate) async fn assert_claim_walks_the_index(
        &self,
        store: &SqlStore,
        limit: usize,
        on: &str,
    ) {
        let plan = store
            .explain_claim(&["echo".to_owned()], limit)
            .await
            .unwrap();
        println!("claim plan {on}:\n{plan}");
        assert!(
            self.claim_plan_walks_the_index(&plan),
            "the claim walks the claim index {on}:\n{plan}"
        );
    }

    /// Whether `plan` (from `explain_claim`) walks the claim index in pull order: no scan of
    /// the table, no sort.
    pub(crate) fn claim_plan_walks_the_index(&self, plan: &str) -> bool {
        let index = format!("{}jobs_claim", self.prefix());
        match self.db {
            Db::Postgres => {
                plan.contains(&format!("Index Scan using {index}"))
                    && !plan.contains("Seq Scan")
                    && !plan.contains("Sort")
            }
            Db::Sqlite => plan.contains(&format!("INDEX {index}")) && !plan.contains("TEMP B-TREE"),
            Db::MySql => {
                plan.contains(&format!("\"key\": \"{index}\"")) && !plan.contains("filesort")
            }
        }
    }

    /// Drops what the place holds.
    pub(crate) async fn clean_up(&self) {
        match self.db {
            #[cfg(feature = "postgres")]
            Db::Postgres => {
                let admin = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .connect(&postgres_url())
                    .await
                    .expect("an admin connection to drop the test schema");
                for schema in [self.name.clone(), format!("{}_b", self.name)] {
                    let drop = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
                    if let Err(e) = sqlx::query(&drop).execute(&admin).await {
                        eprintln!("could not drop test schema {schema}: {e}");
                    }
                }
                admin.close().await;
            }
            #[cfg(feature = "mysql")]
            Db::MySql => {
                let admin = sqlx::mysql::MySqlPoolOptions::new()
                    .max_connections(1)
                    .connect(&mysql_url())
                    .await
                    .expect("an admin connection to drop the test tables");
                let tables: Vec<String> = sqlx::query_scalar(
                    "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
                     WHERE table_schema = DATABASE() AND table_name LIKE ?",
                )
                .bind(format!("{}%", self.name))
                .fetch_all(&admin)
                .await
                .unwrap_or_default();
                if !tables.is_empty() {
                    let names: Vec<String> = tables.iter().map(|t| format!("`{t}`")).collect();
                    let drop = format!(
                        "SET FOREIGN_KEY_CHECKS = 0; DROP TABLE IF EXISTS {}",
                        names.join(", ")
                    );
                    if let Err(e) = sqlx::raw_sql(&drop).execute(&admin).await {
                        eprintln!("could not drop test tables {tables:?}: {e}");
                    }
                }
                admin.close().await;
            }
            #[allow(unreachable_patterns)]
            _ => {}
        }
    }
}

/// The data of one conformance case: a place of its own, in which every handle the case opens
/// is a store on a new pool (as another process would open it), migrating at open.
pub(crate) struct SqlCase(Space);

impl SqlCase {
    /// A fresh place in `db`; nothing is opened yet.
    pub(crate) fn new(db: Db) -> Self {
        Self(Space::new(db))
    }
}

impl StoreFactory for SqlCase {
    async fn open(&self) -> TestStore {
        let store = self.0.open().await;
        let pool = store.pool();
        TestStore::new(store).with_cleanup(close(pool))
    }

    async fn cleanup(&self) {
        self.0.clean_up().await;
    }
}

/// Closes a pool.
pub(crate) async fn close(pool: SqlPool) {
    match pool {
        #[cfg(feature = "postgres")]
        SqlPool::Postgres(pool) => pool.close().await,
        #[cfg(feature = "sqlite")]
        SqlPool::Sqlite(pool) => pool.close().await,
        #[cfg(feature = "mysql")]
        SqlPool::MySql(pool) => pool.close().await,
        _ => {}
    }
}

/// Defines one `#[tokio::test]` per case of [`cases`] that every dialect runs.
#[macro_export]
macro_rules! every_dialects_cases {
    ($db:expr) => {
        store_cases!($db;
            outcomes_are_fenced_entry_by_entry,
            release_hands_attempts_back,
            rescue_takes_only_expired_leases,
            adding_jobs_refuses_or_skips_stored_ids,
            cancel_takes_the_cancellable_statuses_from_the_caller,
            removing_takes_the_oldest_finished_jobs_first,
            json_and_texts_round_trip_exactly,
            huge_payloads_round_trip,
            claim_walks_the_claim_index,
            prefixes_do_not_see_each_other,
            dropping_the_tables_leaves_the_prefix_to_start_anew,
            unreadable_rows_are_store_errors,
            bad_options_are_typed_errors,
            data_written_before_job_features_keeps_working,
            items_written_before_misfire_policies_fire_once,
            unique_keys_hold_through_every_change_of_status,
            long_unique_keys_are_held,
            jobs_added_in_a_transaction_appear_at_commit_only,
        );
    };
}

/// Defines one `#[tokio::test]` per named case of [`cases`], run in a fresh place of `$db`.
#[macro_export]
macro_rules! store_cases {
    ($db:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                common::Space::run($db, common::cases::$case).await;
            }
        )*
    };
}
