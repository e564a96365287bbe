//! The whole conformance suite on SQLite, each case on a database file of its own.

mod common;

conformance_tests::conformance_suite!(common::sqlite_test_store);
