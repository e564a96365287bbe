//! The whole conformance suite on Redis. Each case works under its own random key prefix,
//! cleared after it; every handle a case opens is a store of its own on that prefix, as another
//! process would open it. Data outlives the handles (the server keeps it), and wakeups reach
//! every handle through the store's channel.

mod common;

use conformance_tests::conformance_suite;

conformance_suite!(
    factory: common::RedisCase::new(),
    capabilities: [durable, wakeups, cross_process_wakeups],
);
