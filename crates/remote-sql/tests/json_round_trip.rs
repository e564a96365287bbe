//! R22 as a property on both SQL dialects: arbitrary JSON (unicode, NUL, extreme numbers,
//! operator-looking keys, nesting) round-trips as input and output.

mod common;

use std::sync::Arc;

use conformance_tests::arbitrary::json_round_trip_property;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

#[cfg(feature = "sqlite")]
#[test]
fn arbitrary_json_round_trips_on_sqlite() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("json.db").display());
    let runtime = runtime();
    let store = runtime
        .block_on(remote_sql::SqlStore::connect(&url))
        .expect("SQLite store");
    json_round_trip_property(Arc::new(store), &runtime, 256);
}

#[cfg(feature = "postgres")]
#[test]
fn arbitrary_json_round_trips_on_postgres() {
    let runtime = runtime();
    let schema = common::random_schema();
    let store = runtime.block_on(common::postgres_store(&schema));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        json_round_trip_property(Arc::new(store), &runtime, 256)
    }));
    runtime.block_on(async {
        let admin = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&common::postgres_url())
            .await
            .expect("an admin connection to drop the test schema");
        common::drop_schema(&admin, &schema).await;
        admin.close().await;
    });
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
