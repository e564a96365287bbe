//! The whole conformance suite on MongoDB, each case in its own fresh database.

mod common;

use conformance_tests::conformance_suite;

conformance_suite!(|| async { common::test_store().await });
