//! The whole conformance suite on PostgreSQL. Each case works in a schema of its own, dropped
//! after it; every handle a case opens is a store on a pool of its own, as another process
//! would open it. Data outlives the handles, and NOTIFY wakes every handle's workers.
//!
//! Needs `REMOTE_TEST_POSTGRES_URL` (or the `testcontainers` feature and Docker).

mod common;

conformance_tests::conformance_suite!(
    factory: common::SqlCase::new(common::Db::Postgres),
    capabilities: [durable, wakeups, cross_process_wakeups],
);
