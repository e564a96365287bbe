//! R22 as a property on the memory store: arbitrary JSON round-trips as input and output.

use std::sync::Arc;

use conformance_tests::arbitrary::json_round_trip_property;
use remote_memory::MemoryStore;

#[test]
fn arbitrary_json_round_trips() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    json_round_trip_property(Arc::new(MemoryStore::new()), &runtime, 256);
}
