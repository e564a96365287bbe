//! R22 through the store: JSON inputs and outputs are stored and read back unchanged, through
//! `insert_jobs`, `get_job`, `claim_jobs` and `record_outcomes`; job names are data.

use serde_json::{json, Value};

use super::{claim, ids, insert, named, t};
use crate::arbitrary::{json_round_trip_property_in_case, round_trip, SUITE_CASES};
use crate::calls::token;
use crate::support::TestStore;

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_store_json {
    ($make:expr) => {
        $crate::__area!($make; store::json {
            r22_arbitrary_json_round_trips,
            r22_nul_characters_round_trip,
            r22_unicode_round_trips,
            r22_extreme_numbers_round_trip,
            r22_one_mebibyte_round_trips,
            r22_operator_and_dotted_keys_are_data,
            r22_job_names_of_any_content_are_data,
        });
    };
}

/// Round-trips each value as a job's input and output, failing with the first that changed.
async fn round_trips(store: &TestStore, values: &[Value]) {
    for value in values {
        if let Err(e) = round_trip(&*store.jobs, value).await {
            let shown: String = value.to_string().chars().take(200).collect();
            panic!("{shown} did not round-trip: {e}");
        }
    }
}

/// R22: arbitrary JSON values (nested, unicode, NUL, extreme numbers, operator-like keys)
/// round-trip as input and output; a failing value is shrunk before the case fails.
pub async fn r22_arbitrary_json_round_trips(store: TestStore) {
    json_round_trip_property_in_case(store.jobs.clone(), SUITE_CASES).await;
}

/// R22: NUL characters in strings and keys, alone and among other text, round-trip.
pub async fn r22_nul_characters_round_trip(store: TestStore) {
    round_trips(
        &store,
        &[
            json!("\u{0}"),
            json!("before\u{0}after"),
            json!({"value": "a\u{0}b", "key\u{0}with nul": ["\u{0}", "\u{0}\u{0}"], "\u{0}": 0}),
        ],
    )
    .await;
}

/// R22: unicode of every plane, escapes, control characters and direction marks round-trip.
pub async fn r22_unicode_round_trips(store: TestStore) {
    round_trips(
        &store,
        &[
            json!("naïve café 日本語 עברית 😀 👩‍👩‍👧"),
            json!({
                "ключ": ["κλειδί", "\u{202e}rtl", "\u{10FFFF}\u{FFFD}\u{1F4A9}"],
                "quotes": "\"double\" 'single' `back` \\ / \n\t\r",
                "control": "\u{1}\u{1f}\u{7f}",
                "": "empty key",
                " ": "space key",
            }),
        ],
    )
    .await;
}

/// R22: the extremes of 64-bit integers and of doubles, and integers beyond 2^53, round-trip
/// exactly.
pub async fn r22_extreme_numbers_round_trip(store: TestStore) {
    round_trips(
        &store,
        &[
            json!(u64::MAX),
            json!(i64::MIN),
            json!(i64::MAX),
            json!(9_007_199_254_740_993u64),
            json!(-9_007_199_254_740_993i64),
            json!([
                f64::MAX,
                -f64::MAX,
                f64::MIN_POSITIVE,
                5e-324,
                1e21,
                1e-7,
                0.1,
                -0.0
            ]),
            json!({"big": u64::MAX, "small": i64::MIN, "float": 1.000_000_000_000_000_2_f64}),
        ],
    )
    .await;
}

/// R22: an input of more than 1 MiB of multi-byte text round-trips.
pub async fn r22_one_mebibyte_round_trips(store: TestStore) {
    let text = "ü😀 ".repeat(160 * 1024);
    assert!(text.len() > 1024 * 1024);
    round_trips(&store, &[json!({ "text": text, "tail": [1, 2, 3] })]).await;
}

/// R22: keys that databases read as operators or paths (`$where`, `$set`, `a.b`, `.`, `_id`)
/// are stored as data, at any depth.
pub async fn r22_operator_and_dotted_keys_are_data(store: TestStore) {
    round_trips(
        &store,
        &[
            json!({
                "$where": "sleep(1000)",
                "$set": {"status": "completed"},
                "$": 1,
                "$$ROOT": 2,
                "a.b": 3,
                ".": 4,
                "..": 5,
                "_id": 6,
                "__proto__": {"polluted": true},
                "status": "not a status",
                "nested": {"$gt": "", "x.y.z": [{"$in": []}, {"$or": [{"a.b": 1}]}]},
            }),
            json!([{"$where": "1"}, {"a.b": {"c.d": "e.f"}}]),
        ],
    )
    .await;
}

/// R22, R7: job names with quotes, operators, dots, SQL and pattern wildcards and unicode are
/// stored and claimed as exact data: each is claimed by its own name only.
pub async fn r22_job_names_of_any_content_are_data(store: TestStore) {
    let weird = [
        "$where",
        "a.b",
        "名前 🚀",
        "'; DROP TABLE remote_jobs; --",
        "%",
        "ech_",
        ".*",
        "say \"hi\"",
    ];
    let jobs: Vec<_> = weird
        .iter()
        .enumerate()
        .map(|(i, name)| named(name, i as u64 + 1, t(i as i64)))
        .collect();
    insert(&*store.jobs, &jobs).await;
    insert(&*store.jobs, &[named("echo", 100, t(0))]).await;
    for (i, name) in weird.iter().enumerate() {
        let names = vec![name.to_string()];
        let claimed = store
            .jobs
            .claim_jobs(&remote_core::ClaimJobs {
                names: &names,
                now: t(100),
                lease_until: t(130),
                token: token(i as i64),
                limit: 10,
            })
            .await
            .unwrap();
        assert_eq!(ids(&claimed), ids(&jobs[i..=i]), "claimed by {name:?}");
        assert_eq!(claimed[0].job_name, *name);
    }
    assert_eq!(
        ids(&claim(&*store.jobs, t(100), token(99), 10).await),
        vec![super::id(100)],
        "the plain name matches only its own job"
    );
}
