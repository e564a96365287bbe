//! The whole conformance suite on MongoDB. Each case works in a database of its own, dropped
//! after it; every handle a case opens is a store on a client of its own, as another process
//! would open it. Data outlives the handles (the server keeps it), and wakeups reach every
//! handle through the change stream.

mod common;

use conformance_tests::conformance_suite;

conformance_suite!(
    factory: common::MongoCase::new(),
    capabilities: [durable, wakeups, cross_process_wakeups],
);
