//! The test servers of the stores and, for every test, a place of its own on them: a
//! PostgreSQL schema, a MariaDB table prefix, a MongoDB database, a Redis key prefix — given
//! to the command through its store URL (`schema=`, `prefix=`, the URL's path) and removed
//! when the test ends, passed or failed.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::{run, Ran};

/// A store URL for one test on a test server; the test's data is removed on drop.
pub(crate) struct ServerStore {
    /// The URL to pass as `--store`.
    pub url: String,
    /// The server's URL as configured (without the test's place), for variants of `url`.
    pub server: String,
    /// The test's schema, table prefix, database or key prefix.
    pub place: String,
    /// Where to find the server when it is missing.
    hint: &'static str,
    cleanup: Cleanup,
}

#[derive(Clone, Copy)]
enum Cleanup {
    Postgres,
    MySql,
    Mongo,
    Redis,
}

/// A name no other test (nor another run of this one) uses: letters, digits and `_`.
pub(crate) fn unique_name(stem: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{stem}_{:x}_{:x}_{}",
        std::process::id(),
        nanos & 0xffff_ffff_ffff,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The URL in `var` (or `default` when unset); panics naming the variable when it is unset
/// without a default or does not start with one of `schemes` (`mongodb://`, …), so that a
/// setup script that printed something else into it shows at once.
pub(crate) fn server_url(var: &str, default: Option<&str>, schemes: &[&str], hint: &str) -> String {
    let url = match std::env::var(var) {
        Ok(url) => url,
        Err(_) => match default {
            Some(url) => url.to_string(),
            None => panic!("{var} is not set: {hint}"),
        },
    };
    if !schemes
        .iter()
        .any(|scheme| url.starts_with(&format!("{scheme}://")))
    {
        let expected: Vec<String> = schemes.iter().map(|s| format!("{s}://")).collect();
        panic!(
            "{var} must be a URL starting with {}, but it is {url:?}: {hint}",
            expected.join(" or ")
        );
    }
    url
}

/// Where the Redis test server comes from.
const REDIS_HINT: &str =
    "source scripts/redis-env.sh, or export REMOTE_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/)";

/// The Redis test server: `REMOTE_TEST_REDIS_URL`, by default `redis://127.0.0.1:6379/`.
pub(crate) fn redis_server() -> String {
    server_url(
        "REMOTE_TEST_REDIS_URL",
        Some("redis://127.0.0.1:6379/"),
        &["redis", "rediss"],
        REDIS_HINT,
    )
}

/// `url` with `key=value` added to its query.
fn with_parameter(url: &str, key: &str, value: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{key}={value}")
}

impl ServerStore {
    /// A schema of its own on the PostgreSQL server of `REMOTE_TEST_POSTGRES_URL`.
    pub(crate) fn postgres() -> Self {
        let hint = "run scripts/test.sh, or export REMOTE_TEST_POSTGRES_URL \
                    (e.g. postgres://postgres@127.0.0.1:5432/test)";
        let server = server_url(
            "REMOTE_TEST_POSTGRES_URL",
            None,
            &["postgres", "postgresql"],
            hint,
        );
        let place = unique_name("remote_cli");
        Self {
            url: with_parameter(&server, "schema", &place),
            server,
            place,
            hint,
            cleanup: Cleanup::Postgres,
        }
    }

    /// A table prefix of its own on the MariaDB server of `REMOTE_TEST_MYSQL_URL` (default
    /// `mysql://root@127.0.0.1:3306/test`).
    pub(crate) fn mysql() -> Self {
        let hint = "source scripts/mariadb-env.sh, or export REMOTE_TEST_MYSQL_URL \
                    (e.g. mysql://root@127.0.0.1:3306/test)";
        let server = server_url(
            "REMOTE_TEST_MYSQL_URL",
            Some("mysql://root@127.0.0.1:3306/test"),
            &["mysql", "mariadb"],
            hint,
        );
        let place = format!("{}_", unique_name("rcli"));
        Self {
            url: with_parameter(&server, "prefix", &place),
            server,
            place,
            hint,
            cleanup: Cleanup::MySql,
        }
    }

    /// A database of its own on the MongoDB server of `REMOTE_TEST_MONGODB_URL`.
    pub(crate) fn mongodb() -> Self {
        let hint = "run scripts/test.sh, or export REMOTE_TEST_MONGODB_URL \
                    (`scripts/mongo-test-server.sh start` prints it)";
        let server = server_url(
            "REMOTE_TEST_MONGODB_URL",
            None,
            &["mongodb", "mongodb+srv"],
            hint,
        );
        let place = unique_name("remote_cli");
        let (scheme, rest) = server.split_once("://").unwrap_or(("mongodb", &server));
        let (hosts, query) = match rest.split_once('/') {
            Some((hosts, path)) => (hosts, path.split_once('?').map(|(_, q)| q)),
            None => match rest.split_once('?') {
                Some((hosts, query)) => (hosts, Some(query)),
                None => (rest, None),
            },
        };
        let query = query.map(|q| format!("?{q}")).unwrap_or_default();
        Self {
            url: format!("{scheme}://{hosts}/{place}{query}"),
            server: server.clone(),
            place,
            hint,
            cleanup: Cleanup::Mongo,
        }
    }

    /// A key prefix of its own on the Redis server of `REMOTE_TEST_REDIS_URL` (default
    /// `redis://127.0.0.1:6379/`).
    pub(crate) fn redis() -> Self {
        let server = redis_server();
        let place = unique_name("remote-cli").replace('_', "-");
        Self {
            url: with_parameter(&server, "prefix", &place),
            server,
            place,
            hint: REDIS_HINT,
            cleanup: Cleanup::Redis,
        }
    }

    /// `remote migrate` on the test's place; a missing server fails the test, saying where
    /// the server should be and how to get one.
    #[track_caller]
    pub(crate) fn migrate(&self) -> Ran {
        let ran = run(&self.url, &["migrate"]);
        if ran.code != Some(0) {
            panic!(
                "{}",
                ran.report(&format!(
                    "no store at {} (the test server is missing or refused): {}",
                    self.server, self.hint
                ))
            );
        }
        ran
    }

    async fn remove(&self) -> Result<(), String> {
        match self.cleanup {
            Cleanup::Postgres => drop_postgres_schema(&self.server, &self.place).await,
            Cleanup::MySql => drop_mysql_tables(&self.server, &self.place).await,
            Cleanup::Mongo => drop_mongo_database(&self.server, &self.place).await,
            Cleanup::Redis => clear_redis_prefix(&self.server, &self.place).await,
        }
    }
}

impl Drop for ServerStore {
    fn drop(&mut self) {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(e) => return eprintln!("no runtime to remove the test's data: {e}"),
        };
        if let Err(e) = runtime.block_on(self.remove()) {
            eprintln!("could not remove {} from {}: {e}", self.place, self.server);
        }
    }
}

#[cfg(feature = "postgres")]
async fn drop_postgres_schema(server: &str, schema: &str) -> Result<(), String> {
    use remote_sql::sqlx;
    let pool = sqlx::postgres::PgPool::connect(server)
        .await
        .map_err(|e| e.to_string())?;
    sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
        .execute(&pool)
        .await
        .map_err(|e| e.to_string())?;
    pool.close().await;
    Ok(())
}

#[cfg(not(feature = "postgres"))]
async fn drop_postgres_schema(_server: &str, _schema: &str) -> Result<(), String> {
    Err("this build has no PostgreSQL store".into())
}

#[cfg(feature = "mysql")]
async fn drop_mysql_tables(server: &str, prefix: &str) -> Result<(), String> {
    use remote_sql::sqlx;
    let server = server.replacen("mariadb:", "mysql:", 1);
    // One connection: the session that turns foreign key checks off is the one dropping.
    let pool = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(1)
        .connect(&server)
        .await
        .map_err(|e| e.to_string())?;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
         WHERE table_schema = DATABASE()",
    )
    .fetch_all(&pool)
    .await
    .map_err(|e| e.to_string())?;
    let ours: Vec<String> = tables
        .iter()
        .filter(|t| t.starts_with(prefix))
        .map(|t| format!("`{t}`"))
        .collect();
    if !ours.is_empty() {
        let drop = format!(
            "SET FOREIGN_KEY_CHECKS = 0; DROP TABLE IF EXISTS {}",
            ours.join(", ")
        );
        sqlx::raw_sql(&drop)
            .execute(&pool)
            .await
            .map_err(|e| e.to_string())?;
    }
    pool.close().await;
    Ok(())
}

#[cfg(not(feature = "mysql"))]
async fn drop_mysql_tables(_server: &str, _prefix: &str) -> Result<(), String> {
    Err("this build has no MariaDB/MySQL store".into())
}

#[cfg(feature = "mongodb")]
async fn drop_mongo_database(server: &str, database: &str) -> Result<(), String> {
    let client = remote_mongo::mongodb::Client::with_uri_str(server)
        .await
        .map_err(|e| e.to_string())?;
    client
        .database(database)
        .drop()
        .await
        .map_err(|e| e.to_string())
}

#[cfg(not(feature = "mongodb"))]
async fn drop_mongo_database(_server: &str, _database: &str) -> Result<(), String> {
    Err("this build has no MongoDB store".into())
}

#[cfg(feature = "redis")]
async fn clear_redis_prefix(server: &str, prefix: &str) -> Result<(), String> {
    let options = remote_redis::RedisOptions {
        prefix: prefix.to_string(),
        wakeups: false,
        ..remote_redis::RedisOptions::default()
    };
    let store = remote_redis::RedisStore::connect_with(server, options)
        .await
        .map_err(|e| e.to_string())?;
    store.clear().await.map(|_| ()).map_err(|e| e.to_string())
}

#[cfg(not(feature = "redis"))]
async fn clear_redis_prefix(_server: &str, _prefix: &str) -> Result<(), String> {
    Err("this build has no Redis store".into())
}
