//! R22: a store URL that is wrong is a typed error from connecting, never a panic or a hang,
//! for every store (PostgreSQL, SQLite, MariaDB/MySQL, MongoDB, Redis) and through the command
//! line's store opener. (A PostgreSQL server that refuses connections is retried by the pool
//! until its acquire timeout, 30 s by default; the command line bounds that with
//! `--connect-timeout`.)

use std::time::Duration;

use remote_core::Error;

const PATIENCE: Duration = Duration::from_secs(45);

async fn within<T>(what: &str, call: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, call)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {PATIENCE:?}"))
}

#[tokio::test]
async fn wrong_sql_urls_are_typed_errors() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let missing_dir = format!(
        "sqlite://{}/no/such/dir/x.db?mode=rwc",
        dir.path().display()
    );
    let read_only_missing = format!("sqlite://{}/absent.db?mode=ro", dir.path().display());
    for url in [
        "postgres://user@[::1:5432/db",
        "postgresql://u@127.0.0.1:99999/db",
        "postgres://u@127.0.0.1/db?sslmode=bogus",
        missing_dir.as_str(),
        read_only_missing.as_str(),
        "mysql://u@localhost/db",
        "",
        "\u{0}",
    ] {
        match within(url, remote_sql::SqlStore::connect(url)).await {
            Err(Error::Store { .. } | Error::InvalidInput(_)) => {}
            Err(other) => panic!("{url:?}: unexpected error kind {other:?}"),
            Ok(_) => panic!("{url:?} opened a store"),
        }
    }
}

#[tokio::test]
async fn wrong_mongodb_urls_are_typed_errors() {
    for (url, database) in [
        ("mongodb://", "remote"),
        (
            "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300",
            "remote",
        ),
        (
            "mongodb://host/?replicaSet=&serverSelectionTimeoutMS=300",
            "remote",
        ),
        (
            "mongodb+srv://127.0.0.1/?serverSelectionTimeoutMS=300",
            "remote",
        ),
        ("not a url", "remote"),
        (
            "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300",
            "bad.name$",
        ),
    ] {
        match within(url, remote_mongo::MongoStore::connect(url, database)).await {
            Err(Error::Store { .. } | Error::InvalidInput(_)) => {}
            Err(other) => panic!("{url:?}: unexpected error kind {other:?}"),
            Ok(_) => panic!("{url:?} opened a store"),
        }
    }
}

#[tokio::test]
async fn wrong_redis_urls_and_prefixes_are_typed_errors() {
    for (url, prefix) in [
        ("redis://127.0.0.1:1/", "remote"),
        ("redis://", "remote"),
        ("not a url", "remote"),
        ("redis://127.0.0.1:1/99999999999", "remote"),
        ("redis://127.0.0.1:1/", "{bad}"),
        ("redis://127.0.0.1:1/", ""),
    ] {
        let options = remote_redis::RedisOptions {
            prefix: prefix.to_string(),
            connection_timeout: Duration::from_secs(2),
            ..remote_redis::RedisOptions::default()
        };
        match within(url, remote_redis::RedisStore::connect_with(url, options)).await {
            Err(Error::Store { .. } | Error::InvalidInput(_)) => {}
            Err(other) => panic!("{url:?} ({prefix:?}): unexpected error kind {other:?}"),
            Ok(_) => panic!("{url:?} ({prefix:?}) opened a store"),
        }
    }
}

#[tokio::test]
async fn the_command_line_opener_reports_wrong_urls_with_exit_codes() {
    for (url, code) in [
        ("cassandra://localhost", 2),
        ("", 2),
        ("redis://127.0.0.1:6379/?prefix=", 2),
        ("postgres://nobody@127.0.0.1:1/none", 4),
        ("mysql://nobody@127.0.0.1:1/none", 4),
        ("mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300", 4),
        ("redis://127.0.0.1:1/", 4),
        ("sqlite:///proc/no/such/dir/x.db", 4),
    ] {
        let opened = remote_cli::store::open_within(url, Duration::from_secs(3));
        match within(url, opened).await {
            Err(e) => assert_eq!(e.code, code, "{url:?}: {}", e.message),
            Ok(_) => panic!("{url:?} opened a store"),
        }
    }
}
