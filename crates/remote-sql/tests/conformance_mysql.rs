//! The whole conformance suite on MariaDB/MySQL. Each case works under a table prefix of its
//! own, dropped after it; every handle a case opens is a store on a pool of its own. MySQL has
//! no channel to wake workers with: they poll.
//!
//! Needs `REMOTE_TEST_MYSQL_URL` (`scripts/mariadb-env.sh` sets it, starting the local server).

mod common;

conformance_tests::conformance_suite!(
    factory: common::SqlCase::new(common::Db::MySql),
    capabilities: [durable],
);
