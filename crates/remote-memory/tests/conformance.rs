//! The whole conformance suite on the in-memory store.

use conformance_tests::{conformance_suite, TestStore};
use remote_memory::MemoryStore;

conformance_suite!(|| async { TestStore::new(MemoryStore::new()) });
