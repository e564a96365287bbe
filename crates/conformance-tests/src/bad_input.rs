//! R22 bad input: arbitrary JSON is data, malformed ids are typed errors, and no input makes
//! a store or the processor panic.

use std::time::Duration;

use chrono::TimeDelta;
use remote_core::{
    handler_fn, typed_fn, ClaimJobs, Error, ItemId, JobContext, JobError, JobFactory, JobId,
    JobQuery, JobStatus,
};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{json, Value};

use crate::support::{at, t0, Harness, TestStore};

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_bad_input {
    ($make:expr) => {
        $crate::__area!($make; bad_input {
            r22_malformed_ids_are_typed_errors,
            r22_nested_unicode_input_round_trips,
            r22_one_mebibyte_input_round_trips,
            r22_operator_like_keys_are_stored_as_data,
            r22_top_level_scalars_and_arrays_round_trip,
            r22_deeply_nested_json_round_trips,
            r22_nul_characters_round_trip,
            r22_error_text_of_any_size_and_content_is_kept,
            r22_job_names_with_special_characters_are_data,
            r22_typed_handler_with_wrong_input_fails_permanently,
            r22_unrepresentable_output_does_not_panic_the_processor,
            r22_unknown_job_names_are_typed_errors_for_every_add,
            r22_process_job_of_an_unclaimed_job_is_a_typed_error,
            r22_extreme_not_before_times_round_trip,
            r22_zero_limits_and_huge_offsets_are_handled,
            r22_empty_batch_is_accepted,
            r22_floats_round_trip_exactly,
        });
    };
}

/// Adds `input` as an echo job, checks it reads back unchanged, runs it and checks the output
/// reads back unchanged (also through listing).
async fn round_trip(h: &Harness, input: Value) {
    let id = h.p.add_job("echo", input.clone()).await.unwrap();
    assert!(
        h.p.get_job(&id).await.unwrap().input == input,
        "input changed in the store"
    );
    let claimed = h.p.pull_next_job().await.unwrap().expect("the job");
    assert_eq!(claimed.id, id);
    assert!(claimed.input == input, "input changed by the claim");
    assert_eq!(h.p.process_job(&id).await.unwrap(), JobStatus::Completed);
    let job = h.p.get_job(&id).await.unwrap();
    assert!(job.input == input, "input changed after completion");
    assert!(job.output.as_ref() == Some(&input), "output changed");
    assert!(
        h.p.job_result(&id).await.unwrap() == Some(input.clone()),
        "job_result changed"
    );
    let listed = h.p.list_jobs(&JobQuery::default()).await.unwrap();
    let listed = listed.into_iter().find(|j| j.id == id).expect("listed");
    assert!(listed.input == input && listed.output == Some(input));
}

/// R22: malformed ids from outside are `InvalidId` errors (never a panic) for every id type
/// and every way in (parse, `FromStr`, serde); the offending text is reported, cut to 64 chars.
pub async fn r22_malformed_ids_are_typed_errors(_store: TestStore) {
    let long = "a".repeat(10_000);
    let bad = [
        "",
        " ",
        "xyz",
        "0123456789abcdef0123456",
        "0123456789abcdef012345678",
        "0123456789abcdef0123456g",
        " 0123456789abcdef012345",
        "0123456789abcdef01234567\n",
        "0x0123456789abcdef012345",
        "éééééééééééé",
        "０１２３４５６７８９ａｂ",
        "'; DROP TABLE jobs; --",
        "{\"$gt\": \"\"}",
        "0123456789abcdef\u{0}1234567",
        long.as_str(),
    ];
    for text in bad {
        match JobId::parse(text) {
            Err(Error::InvalidId { kind, value }) => {
                assert_eq!(kind, "job");
                assert!(value.chars().count() <= 64, "value cut to 64 chars");
                assert!(text.starts_with(&value), "reports the text given");
            }
            other => panic!("JobId::parse({text:?}) gave {other:?}"),
        }
        assert!(matches!(
            text.parse::<JobId>(),
            Err(Error::InvalidId { .. })
        ));
        assert!(matches!(
            ItemId::parse(text),
            Err(Error::InvalidId {
                kind: "scheduler item",
                ..
            })
        ));
        assert!(serde_json::from_value::<JobId>(json!(text)).is_err());
        assert!(serde_json::from_value::<ItemId>(json!(text)).is_err());
    }
    for not_text in [json!(null), json!(12), json!(["0123456789abcdef01234567"])] {
        assert!(serde_json::from_value::<JobId>(not_text).is_err());
    }
    let good = JobId::new();
    assert_eq!(JobId::parse(&good.as_str().to_uppercase()).unwrap(), good);
    assert_eq!(
        serde_json::from_value::<JobId>(json!(good.as_str())).unwrap(),
        good
    );
}

/// R22: nested objects and arrays with unicode keys and values (accents, CJK, emoji, RTL,
/// escapes) round-trip unchanged.
pub async fn r22_nested_unicode_input_round_trips(store: TestStore) {
    let h = Harness::new(store);
    round_trip(
        &h,
        json!({
            "naïve café": {"日本語": ["😀", "👩‍👩‍👧", "עברית", "\u{202e}rtl"]},
            "quotes": "\"double\" 'single' `back` \\ / \n\t\r",
            "ключ": [1, {"κλειδί": null, "empty": {}, "none": []}, true, false],
            "": "empty key",
            " ": "space key",
            "emoji🔑": "\u{10FFFF}\u{FFFD}\u{1F4A9}",
            "control": "\u{1}\u{1f}\u{7f}",
        }),
    )
    .await;
}

/// R22: an input of more than 1 MiB (multi-byte text) round-trips unchanged.
pub async fn r22_one_mebibyte_input_round_trips(store: TestStore) {
    let h = Harness::new(store);
    let text: String = "ab€🚀xyz".repeat(110_000);
    let list: Vec<Value> = (0..2000).map(|n| json!({"n": n, "s": "é"})).collect();
    let input = json!({"blob": text, "list": list});
    let size = serde_json::to_vec(&input).unwrap().len();
    assert!(size > 1 << 20, "input is {size} bytes");
    round_trip(&h, input).await;
}

/// R22: keys such as `$where`, `$set`, `a.b`, `.`, `_id` and `""` are stored as data — in input
/// and output — never interpreted.
pub async fn r22_operator_like_keys_are_stored_as_data(store: TestStore) {
    let h = Harness::new(store);
    round_trip(
        &h,
        json!({
            "$where": "function() { return true; }",
            "$set": {"status": "completed"},
            "$gt": "",
            "$inc": {"attempt": 100},
            "a.b": {"c.d": 1, ".": 2, "..": 3},
            ".": ".",
            "": {"": ""},
            "_id": "not-an-id",
            "status": "completed",
            "$": ["$", "$$ROOT", "$unset"],
            "nested": [{"$or": [{"x": 1}]}, {"a.b.c": {"$exists": false}}],
        }),
    )
    .await;
}

/// R22: top-level JSON null, booleans, strings, big and negative integers, floats and arrays
/// round-trip; a `null` output is kept (the result is `Some(null)`, not none).
pub async fn r22_top_level_scalars_and_arrays_round_trip(store: TestStore) {
    let h = Harness::new(store);
    for input in [
        Value::Null,
        json!(true),
        json!(false),
        json!(""),
        json!("just text"),
        json!("123"),
        json!(0),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(-1),
        json!(9_007_199_254_740_993_u64),
        json!(0.1),
        json!(-2.5e-300),
        json!(1.5e300),
        json!(std::f64::consts::PI),
        json!([]),
        json!([null, 1, "two", [3], {"four": 4}]),
        json!({}),
    ] {
        round_trip(&h, input).await;
    }
}

/// R22: input nested 100 levels deep (objects and arrays alternating) round-trips.
pub async fn r22_deeply_nested_json_round_trips(store: TestStore) {
    let h = Harness::new(store);
    let mut input = json!("bottom");
    for level in 0..100 {
        input = if level % 2 == 0 {
            json!([level, input])
        } else {
            json!({ "level": level, "inner": input })
        };
    }
    round_trip(&h, input).await;
}

/// R22: NUL characters in string values and keys round-trip.
pub async fn r22_nul_characters_round_trip(store: TestStore) {
    let h = Harness::new(store);
    round_trip(
        &h,
        json!({"value": "before\u{0}after", "key\u{0}with nul": ["\u{0}"]}),
    )
    .await;
}

/// R22: error texts of any size and content (64 KiB, unicode, quotes, NUL, JSON-like) are kept
/// exactly in the error record.
pub async fn r22_error_text_of_any_size_and_content_is_kept(store: TestStore) {
    let h = Harness::new(store);
    let text = format!(
        "{{\"$where\": \"1\"}} '; DROP TABLE jobs; -- \u{0} ✗ 😀\n{}",
        "line of detail €\n".repeat(4000)
    );
    let message = text.clone();
    h.p.register(JobFactory::new(
        "loud",
        handler_fn(move |_ctx: JobContext| {
            let message = message.clone();
            async move { Err::<Value, _>(JobError::permanent(message)) }
        }),
    ))
    .unwrap();
    let id = h.p.add_job("loud", None).await.unwrap();
    assert!(h.p.process_next_job().await.unwrap());
    let errors = h.p.job_errors(&id).await.unwrap();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].message == text, "error text changed in the store");
}

/// R22: job names with quotes, SQL/regex/LIKE wildcards and unicode are stored and matched as
/// exact data: a wildcard-looking filter or claim matches nothing else.
pub async fn r22_job_names_with_special_characters_are_data(store: TestStore) {
    let h = Harness::new(store);
    let weird = "we'ird \"name\" ; DROP TABLE jobs; -- $where a.b % _ .* ünï 🚀";
    h.p.register(JobFactory::new(
        weird,
        handler_fn(|ctx: JobContext| async move { Ok::<_, JobError>(ctx.input) }),
    ))
    .unwrap();
    let echo = h.p.add_job("echo", json!("plain")).await.unwrap();
    let id = h.p.add_job(weird, json!("odd")).await.unwrap();
    let by_name = |name: &str| JobQuery {
        job_name: Some(name.to_string()),
        ..Default::default()
    };
    let listed = h.p.list_jobs(&by_name(weird)).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, id);
    assert_eq!(listed[0].job_name, weird);
    for wildcard in ["%", "ech%", "ech_", "e.*", ".*", "^echo$", "*"] {
        assert!(
            h.p.list_jobs(&by_name(wildcard)).await.unwrap().is_empty(),
            "job_name filter {wildcard:?} matched"
        );
    }
    let names = vec!["%".to_string(), "ech_".to_string(), ".*".to_string()];
    let now = t0();
    let claimed = h
        .jobs
        .claim_jobs(&ClaimJobs {
            names: &names,
            now,
            lease_until: now + TimeDelta::seconds(30),
            token: crate::calls::token(1),
            limit: 10,
        })
        .await
        .unwrap();
    assert!(claimed.is_empty(), "wildcard names claimed {claimed:?}");
    assert_eq!(h.p.pull_next_job().await.unwrap().unwrap().id, echo);
    assert_eq!(h.p.pull_next_job().await.unwrap().unwrap().id, id);
    assert_eq!(h.p.process_job(&id).await.unwrap(), JobStatus::Completed);
    assert_eq!(h.p.get_job(&id).await.unwrap().job_name, weird);
    assert_eq!(h.p.job_result(&id).await.unwrap(), Some(json!("odd")));
}

#[derive(Deserialize)]
struct Point {
    x: i64,
    y: i64,
}

/// R22: a typed handler given input of the wrong shape fails permanently at once, with a
/// record saying the input is invalid; right-shaped input still works.
pub async fn r22_typed_handler_with_wrong_input_fails_permanently(store: TestStore) {
    let h = Harness::new(store);
    h.p.register(JobFactory::new(
        "add",
        typed_fn(|p: Point, _ctx: JobContext| async move { Ok::<_, JobError>(p.x + p.y) }),
    ))
    .unwrap();
    for wrong in [
        json!({"x": "one", "y": 2}),
        json!({"x": 1}),
        json!("not an object"),
        Value::Null,
        json!({"x": 1.5, "y": 2}),
    ] {
        let id = h.p.add_job("add", wrong.clone()).await.unwrap();
        assert!(h.p.process_next_job().await.unwrap());
        assert_eq!(h.status(&id).await, JobStatus::Error, "input {wrong}");
        let errors = h.p.job_errors(&id).await.unwrap();
        assert_eq!(errors.len(), 1, "no retry for {wrong}");
        assert!(
            errors[0].message.contains("invalid input"),
            "clear message: {:?}",
            errors[0].message
        );
    }
    let good = h.p.add_job("add", json!({"x": 2, "y": 40})).await.unwrap();
    assert!(h.p.process_next_job().await.unwrap());
    assert_eq!(h.p.job_result(&good).await.unwrap(), Some(json!(42)));
}

struct Unrepresentable;

impl Serialize for Unrepresentable {
    fn serialize<S: Serializer>(&self, _s: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("this value has no JSON form"))
    }
}

struct Explosive;

impl Serialize for Explosive {
    fn serialize<S: Serializer>(&self, _s: S) -> Result<S::Ok, S::Error> {
        panic!("serialising exploded")
    }
}

/// R22: a handler whose output cannot be turned into JSON (an error or a panic while
/// serialising) fails its attempt with a record; the processor goes on running jobs.
pub async fn r22_unrepresentable_output_does_not_panic_the_processor(store: TestStore) {
    let h = Harness::new(store);
    h.p.register(JobFactory::new(
        "unrepresentable",
        handler_fn(|_ctx: JobContext| async move { Ok::<_, JobError>(Unrepresentable) }),
    ))
    .unwrap();
    h.p.register(JobFactory::new(
        "explosive",
        handler_fn(|_ctx: JobContext| async move { Ok::<_, JobError>(Explosive) }),
    ))
    .unwrap();
    let bad = h.p.add_job("unrepresentable", None).await.unwrap();
    let boom = h.p.add_job("explosive", None).await.unwrap();
    let fine = h.p.add_job("echo", json!("fine")).await.unwrap();
    while h.p.process_next_job().await.unwrap() {}
    for (id, text) in [
        (&bad, "this value has no JSON form"),
        (&boom, "serialising exploded"),
    ] {
        let job = h.p.get_job(id).await.unwrap();
        assert_ne!(job.status, JobStatus::Completed);
        assert_eq!(job.output, None);
        let errors = h.p.job_errors(id).await.unwrap();
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].message.contains(text),
            "record: {:?}",
            errors[0].message
        );
    }
    assert_eq!(h.p.job_result(&fine).await.unwrap(), Some(json!("fine")));
}

/// R22/R1: `add_job_at` and `add_jobs` with an unknown name are `UnknownJob` naming it, and
/// store nothing (not even the valid part of a batch).
pub async fn r22_unknown_job_names_are_typed_errors_for_every_add(store: TestStore) {
    let h = Harness::new(store);
    let later = t0() + TimeDelta::seconds(5);
    match h.p.add_job_at("nope", json!(1), later).await {
        Err(Error::UnknownJob(name)) => assert_eq!(name, "nope"),
        other => panic!("expected UnknownJob, got {other:?}"),
    }
    match h.p.add_jobs("also-nope", vec![json!(1), json!(2)]).await {
        Err(Error::UnknownJob(name)) => assert_eq!(name, "also-nope"),
        other => panic!("expected UnknownJob, got {other:?}"),
    }
    assert!(matches!(
        h.p.add_job("", None).await,
        Err(Error::UnknownJob(name)) if name.is_empty()
    ));
    assert!(h
        .p
        .list_jobs(&JobQuery::default())
        .await
        .unwrap()
        .is_empty());
}

/// R22/R13: `process_job` of a queued or ended job is a typed `NotClaimed` error that runs
/// nothing and changes nothing.
pub async fn r22_process_job_of_an_unclaimed_job_is_a_typed_error(store: TestStore) {
    let h = Harness::new(store);
    let queued = h.p.add_job("error", None).await.unwrap();
    let done = h.p.add_job("echo", json!("once")).await.unwrap();
    h.p.pull_next_job().await.unwrap(); // the error job
    h.p.process_job(&queued).await.unwrap();
    assert!(h.p.process_next_job().await.unwrap()); // the echo job
    let fresh = h.p.add_job("fatal", None).await.unwrap();
    for (id, status) in [
        (&fresh, JobStatus::Queued),
        (&done, JobStatus::Completed),
        (&queued, JobStatus::Error),
    ] {
        let before = h.p.get_job(id).await.unwrap();
        let errors = h.p.job_errors(id).await.unwrap();
        match h.p.process_job(id).await {
            Err(Error::NotClaimed { id: got, status: s }) => {
                assert_eq!(&got, id);
                assert_eq!(s, status);
            }
            other => panic!("expected NotClaimed for a {status} job, got {other:?}"),
        }
        assert_eq!(h.p.get_job(id).await.unwrap(), before);
        assert_eq!(h.p.job_errors(id).await.unwrap(), errors);
    }
}

/// R22/R1: not-before times far in the future (year 9999) and past (1900) are stored exactly;
/// the future one is not due, the past one is due at once.
pub async fn r22_extreme_not_before_times_round_trip(store: TestStore) {
    let h = Harness::new(store);
    let far = at("9999-12-31T23:59:59.999Z");
    let past = at("1900-01-01T00:00:00.001Z");
    let future = h.p.add_job_at("echo", json!("future"), far).await.unwrap();
    let old = h.p.add_job_at("echo", json!("past"), past).await.unwrap();
    assert_eq!(h.p.get_job(&future).await.unwrap().not_before, Some(far));
    assert_eq!(h.p.get_job(&old).await.unwrap().not_before, Some(past));
    assert_eq!(h.p.pull_next_job().await.unwrap().unwrap().id, old);
    h.advance(Duration::from_secs(100 * 365 * 86_400));
    assert!(h.p.pull_next_job().await.unwrap().is_none());
    h.clock.set(far);
    assert_eq!(h.p.pull_next_job().await.unwrap().unwrap().id, future);
}

/// R22: a store asked for zero jobs (claim, expired leases, list) returns none — zero is not
/// "no limit" — and paging past the end with a huge offset or limit is handled.
pub async fn r22_zero_limits_and_huge_offsets_are_handled(store: TestStore) {
    let h = Harness::new(store);
    h.p.add_jobs("echo", (0..3).map(|n| json!(n)).collect())
        .await
        .unwrap();
    let names = vec!["echo".to_string()];
    let claim = |limit: usize| ClaimJobs {
        names: &names,
        now: t0(),
        lease_until: t0() + TimeDelta::seconds(1),
        token: crate::calls::token(1),
        limit,
    };
    assert!(h.jobs.claim_jobs(&claim(0)).await.unwrap().is_empty());
    assert_eq!(h.p.count_jobs().await.unwrap()[&JobStatus::Queued], 3);
    assert_eq!(h.jobs.claim_jobs(&claim(2)).await.unwrap().len(), 2);
    let later = t0() + TimeDelta::seconds(5);
    assert!(crate::calls::expired(&*h.jobs, later, 0)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        crate::calls::expired(&*h.jobs, later, 10)
            .await
            .unwrap()
            .len(),
        2
    );
    let page = |offset: u64, limit: Option<u64>| JobQuery {
        offset,
        limit,
        ..Default::default()
    };
    assert!(h.p.list_jobs(&page(0, Some(0))).await.unwrap().is_empty());
    assert_eq!(
        h.p.list_jobs(&page(0, Some(u64::MAX))).await.unwrap().len(),
        3
    );
    assert!(h
        .p
        .list_jobs(&page(u64::MAX, None))
        .await
        .unwrap()
        .is_empty());
    assert!(h
        .p
        .list_jobs(&page(u64::MAX, Some(u64::MAX)))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(h.p.list_jobs(&page(2, Some(5))).await.unwrap().len(), 1);
}

/// R22: adding an empty batch is accepted, returns no ids and stores nothing.
pub async fn r22_empty_batch_is_accepted(store: TestStore) {
    let h = Harness::new(store);
    assert!(h.p.add_jobs("echo", Vec::new()).await.unwrap().is_empty());
    crate::calls::insert(&*h.jobs, &[]).await.unwrap();
    assert!(h
        .p
        .list_jobs(&JobQuery::default())
        .await
        .unwrap()
        .is_empty());
    assert!(h.p.pull_next_job().await.unwrap().is_none());
}

/// R22 (found by the JSON round-trip property): floats read back from a store that keeps JSON
/// as text are the exact `f64` written, not one a last digit away.
pub async fn r22_floats_round_trip_exactly(store: TestStore) {
    let h = Harness::new(store);
    let floats = [
        1.947_700_395_895_162e-169,
        -1.490_143_767_845_386e129,
        6.162_599_865_641_032e196,
        -1.049_882_427_645_354_5e74,
        -4.509_841_358_720_188e244,
        -2.562_238_397_212_989e-192,
        0.1,
        -0.0,
        5e-324,
        2.225_073_858_507_201e-308,
        f64::MAX,
        f64::MIN_POSITIVE,
        1.797_693_134_862_315_5e308,
        9_007_199_254_740_992.0,
        std::f64::consts::E,
    ];
    round_trip(&h, json!(floats)).await;
    for f in floats {
        round_trip(&h, json!({ "f": f })).await;
    }
}
