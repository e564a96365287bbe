//! R22 as a property on every SQL dialect: arbitrary JSON (unicode, NUL, extreme numbers,
//! operator-looking keys, nesting) round-trips as input and output.

#![cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]

mod common;

use std::sync::Arc;

use common::{Db, Space};
use conformance_tests::arbitrary::json_round_trip_property;

fn property_on(db: Db) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let space = Space::new(db);
    let store = runtime.block_on(space.open());
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        json_round_trip_property(Arc::new(store), &runtime, 256)
    }));
    runtime.block_on(space.clean_up());
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

#[cfg(feature = "sqlite")]
#[test]
fn arbitrary_json_round_trips_on_sqlite() {
    property_on(Db::Sqlite);
}

#[cfg(feature = "postgres")]
#[test]
fn arbitrary_json_round_trips_on_postgres() {
    property_on(Db::Postgres);
}

#[cfg(feature = "mysql")]
#[test]
fn arbitrary_json_round_trips_on_mysql() {
    property_on(Db::MySql);
}
