//! What the test binaries share: where PostgreSQL is, and isolated stores for the suite.

#![allow(dead_code, unused_imports)]

#[cfg(feature = "postgres")]
pub use self::postgres::*;
#[cfg(feature = "sqlite")]
pub use self::sqlite::*;

#[cfg(feature = "postgres")]
mod postgres {
    use std::sync::OnceLock;

    use conformance_tests::TestStore;
    use remote_sql::{SqlOptions, SqlPool, SqlStore};

    /// The variable naming the PostgreSQL server the tests use.
    pub const POSTGRES_URL_VAR: &str = "REMOTE_TEST_POSTGRES_URL";

    /// The test server's URL: `REMOTE_TEST_POSTGRES_URL`, else a container (feature
    /// `testcontainers`), else a panic saying how to provide one. Never a silent skip.
    pub fn postgres_url() -> String {
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

    /// A schema name no other test uses.
    pub fn random_schema() -> String {
        format!("remote_test_{:016x}", rand::random::<u64>())
    }

    /// A store in a fresh schema of the test server, with small pools (many tests run at once).
    pub async fn postgres_store(schema: &str) -> SqlStore {
        SqlOptions::new()
            .schema(schema)
            .max_connections(4)
            .connect(&postgres_url())
            .await
            .unwrap_or_else(|e| panic!("cannot open a PostgreSQL store at {POSTGRES_URL_VAR}: {e}"))
    }

    /// The PostgreSQL pool under a store.
    pub fn pg_pool(store: &SqlStore) -> sqlx::PgPool {
        match store.pool() {
            SqlPool::Postgres(pool) => pool,
            other => panic!("not a PostgreSQL store: {other:?}"),
        }
    }

    /// Drops a test schema and everything in it.
    pub async fn drop_schema(pool: &sqlx::PgPool, schema: &str) {
        if let Err(e) = sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
            .execute(pool)
            .await
        {
            eprintln!("could not drop test schema {schema}: {e}");
        }
    }

    /// An empty PostgreSQL store for one conformance case; its schema is dropped afterwards.
    pub async fn postgres_test_store() -> TestStore {
        let schema = random_schema();
        let store = postgres_store(&schema).await;
        let pool = pg_pool(&store);
        TestStore::new(store).with_cleanup(async move {
            drop_schema(&pool, &schema).await;
            pool.close().await;
        })
    }
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use conformance_tests::TestStore;
    use remote_sql::SqlStore;

    /// A URL for a new SQLite file in `dir`.
    pub fn sqlite_url(dir: &tempfile::TempDir, name: &str) -> String {
        format!("sqlite://{}?mode=rwc", dir.path().join(name).display())
    }

    /// An empty SQLite store on a fresh file for one conformance case; the file goes afterwards.
    pub async fn sqlite_test_store() -> TestStore {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = SqlStore::connect(&sqlite_url(&dir, "remote.db"))
            .await
            .unwrap_or_else(|e| panic!("cannot open an SQLite store: {e}"));
        TestStore::new(store).with_cleanup(async move { drop(dir) })
    }
}
