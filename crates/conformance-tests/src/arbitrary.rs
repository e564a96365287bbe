//! R22 as a property: any JSON value (bounded in size and depth, with unicode, NUL, extreme
//! numbers and operator-looking keys) is stored as input and output and read back unchanged.
//!
//! The suite runs it on every store (`store::json`, with [`SUITE_CASES`] values); a store may
//! run more values from a test of its own with [`json_round_trip_property`]. Failing values
//! are shrunk by proptest to a small one before the test fails.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use remote_core::{ClaimJobs, Job, JobStore, LeaseToken};
use serde_json::{Map, Number, Value};

/// Name of the jobs the property stores (each case adds a random suffix of its own).
pub const ROUND_TRIP_JOB: &str = "json-round-trip";

/// Values the suite's property case tries on every store: enough to meet every kind of
/// value, few enough for a store a network hop away.
pub const SUITE_CASES: u32 = 64;

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<String>(),
        1 => prop::sample::select(vec![
            "$where", "$set", "$gt", "$", "$$ROOT", "a.b", ".", "..", "", "_id", "status",
            "__proto__", "\u{0}", "key\u{0}nul", "ключ", "🔑",
        ])
        .prop_map(str::to_owned),
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter_map("finite", Number::from_f64)
            .prop_map(Value::Number),
        prop::sample::select(vec![
            0.1,
            -0.0,
            5e-324,
            f64::MAX,
            f64::MIN_POSITIVE,
            1e21,
            1e-7
        ])
        .prop_filter_map("finite", Number::from_f64)
        .prop_map(Value::Number),
    ]
}

/// Arbitrary JSON: scalars of every kind, arrays and objects nested up to 6 levels.
pub fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 96, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..8)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Stores `value` as a job's input, claims the job and completes it with `value` as output,
/// checking after each step that the store gives the value back unchanged.
pub async fn round_trip(jobs: &dyn JobStore, value: &Value) -> Result<(), String> {
    let now = crate::support::t0();
    let name = format!("{ROUND_TRIP_JOB}-{:016x}", rand::random::<u64>());
    let job = Job::queued(name.as_str(), value.clone(), 1, Duration::ZERO, now);
    let fail = |step: &str, e: remote_core::Error| format!("{step}: {e}");
    crate::calls::insert(jobs, std::slice::from_ref(&job))
        .await
        .map_err(|e| fail("insert", e))?;
    let stored = jobs
        .get_job(&job.id)
        .await
        .map_err(|e| fail("get", e))?
        .ok_or("the job vanished")?;
    if stored.input != *value {
        return Err(format!("input read back as {}", stored.input));
    }
    let names = vec![name];
    let token = LeaseToken::random();
    let claimed = jobs
        .claim_jobs(&ClaimJobs {
            names: &names,
            now,
            lease_until: now + TimeDelta::seconds(30),
            token,
            limit: 1,
        })
        .await
        .map_err(|e| fail("claim", e))?;
    match claimed.as_slice() {
        [one] if one.id == job.id && one.input == *value => {}
        other => return Err(format!("the claim returned {other:?}")),
    }
    if !crate::calls::complete(jobs, &job.id, token, value, now)
        .await
        .map_err(|e| fail("complete", e))?
    {
        return Err("the completion was refused".into());
    }
    let done = jobs
        .get_job(&job.id)
        .await
        .map_err(|e| fail("get", e))?
        .ok_or("the job vanished")?;
    if done.input != *value || done.output.as_ref() != Some(value) {
        return Err(format!(
            "read back as input {} output {:?}",
            done.input, done.output
        ));
    }
    Ok(())
}

/// Runs [`round_trip`] on `cases` arbitrary values against `jobs` (on `runtime`); panics with
/// the shrunk failing value.
pub fn json_round_trip_property(
    jobs: Arc<dyn JobStore>,
    runtime: &tokio::runtime::Runtime,
    cases: u32,
) {
    check_values(cases, |value| {
        runtime.block_on(round_trip(jobs.as_ref(), value))
    });
}

/// Runs [`round_trip`] on `cases` arbitrary values against `jobs` from inside a case: on a
/// blocking thread that drives the case's runtime; panics with the shrunk failing value.
pub async fn json_round_trip_property_in_case(jobs: Arc<dyn JobStore>, cases: u32) {
    let runtime = tokio::runtime::Handle::current();
    let property = tokio::task::spawn_blocking(move || {
        check_values(cases, |value| {
            runtime.block_on(round_trip(jobs.as_ref(), value))
        });
    });
    if let Err(failed) = property.await {
        match failed.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(failed) => panic!("the JSON round trip did not finish: {failed}"),
        }
    }
}

/// Checks `cases` arbitrary values with `check`; panics with the shrunk failing value.
fn check_values(cases: u32, check: impl Fn(&Value) -> Result<(), String>) {
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let outcome = runner.run(&json_value(), |value| {
        check(&value).map_err(TestCaseError::fail)
    });
    if let Err(failure) = outcome {
        panic!("JSON round trip failed: {failure}");
    }
}
