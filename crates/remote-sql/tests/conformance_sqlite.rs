//! The whole conformance suite on SQLite. Each case works on a database file of its own,
//! removed after it; every handle a case opens is a store on a pool of its own on that file.
//! SQLite has no channel to wake workers with: they poll.

mod common;

conformance_tests::conformance_suite!(
    factory: common::SqlCase::new(common::Db::Sqlite),
    capabilities: [durable],
);
