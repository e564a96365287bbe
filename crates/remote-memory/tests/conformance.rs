//! The whole conformance suite on the in-memory store. A second handle on a case's data is the
//! same store, shared (no other process can open it); nothing survives the process, so the
//! `durable` cases do not apply, and wakeups reach the handles of this process only.

use conformance_tests::{conformance_suite, SharedStore};
use remote_memory::MemoryStore;

conformance_suite!(
    factory: SharedStore::new(MemoryStore::new()),
    capabilities: [wakeups],
);
