//! The whole conformance suite on PostgreSQL, each case in a schema of its own.
//!
//! Needs `REMOTE_TEST_POSTGRES_URL` (or the `testcontainers` feature and Docker).

mod common;

conformance_tests::conformance_suite!(common::postgres_test_store);
