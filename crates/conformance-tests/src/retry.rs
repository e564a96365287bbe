//! R3 attempts and errors, R7 factories: what a failed attempt leaves behind, when a job is tried
//! again, and which jobs a processor pulls.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::TimeDelta;
use remote_core::{
    handler_fn, Error, ErrorRecord, JobContext, JobError, JobFactory, JobQuery, JobStatus,
    Processor, ResultExt,
};
use serde_json::{json, Value};

use crate::support::{t0, Harness, TestStore};

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_retry {
    ($make:expr) => {
        $crate::__area!($make; retry {
            r3_retryable_error_requeues_with_not_before_from_the_failure,
            r3_retried_job_is_not_pulled_before_its_not_before,
            r3_last_attempt_ends_in_error_with_one_record_per_attempt,
            r3_permanent_error_ends_the_job_at_once,
            r3_panic_is_recorded_with_its_message_and_retried,
            r3_error_text_keeps_its_source_chain,
            r3_max_attempts_comes_from_the_factory,
            r3_retry_delay_comes_from_the_factory_to_the_millisecond,
            r3_success_after_failures_completes_and_keeps_the_records,
            r3_missing_factory_fails_with_a_record_naming_the_job,
            r7_registering_a_name_twice_is_an_error_and_keeps_the_first,
            r7_factories_are_listed,
            r7_worker_pulls_only_registered_names,
            r7_job_names_narrows_pulling,
        });
    };
}

fn ms(n: i64) -> TimeDelta {
    TimeDelta::milliseconds(n)
}

fn secs(n: i64) -> TimeDelta {
    TimeDelta::seconds(n)
}

/// A factory whose handler always fails with a retryable error.
fn failing(name: &str) -> JobFactory {
    JobFactory::new(
        name,
        handler_fn(|_ctx: JobContext| async move {
            Err::<Value, _>(JobError::retryable("it failed again"))
        }),
    )
}

/// R3: a retryable failure puts the job back in `queued` with `not_before = failure time +
/// retry_delay` (not claim time), keeps `queued_at`, clears the lease and records attempt 1.
pub async fn r3_retryable_error_requeues_with_not_before_from_the_failure(store: TestStore) {
    let h = Harness::new(store);
    let id = h.p.add_job("fatal", None).await.unwrap();
    h.advance(Duration::from_secs(1));
    let claimed = h.p.pull_next_job().await.unwrap().expect("a job");
    assert_eq!(claimed.id, id);
    h.advance(Duration::from_millis(2500)); // the attempt fails 2.5 s after its claim
    assert_eq!(h.p.process_job(&id).await.unwrap(), JobStatus::Queued);
    let job = h.p.get_job(&id).await.unwrap();
    assert_eq!(job.status, JobStatus::Queued);
    assert_eq!(job.attempt, 1);
    assert_eq!(job.queued_at, t0(), "a retry keeps its place in line");
    assert_eq!(job.picked_at, Some(t0() + secs(1)));
    assert_eq!(
        job.not_before,
        Some(t0() + ms(3500) + secs(10)),
        "not_before = failure time + retry_delay, not claim time + retry_delay"
    );
    assert_eq!(job.lease_until, None);
    assert_eq!(job.lease_token, None);
    assert_eq!(job.completed_at, None);
    assert_eq!(job.output, None);
    let errors = h.p.job_errors(&id).await.unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].attempt, 1);
    assert_eq!(errors[0].created, t0() + ms(3500));
    assert_eq!(errors[0].message, "A fatal error occurred.");
}

/// R3: a retried job is not pulled before its `not_before` and is pulled at it, as attempt 2.
pub async fn r3_retried_job_is_not_pulled_before_its_not_before(store: TestStore) {
    let h = Harness::new(store);
    let id = h.p.add_job("fatal", None).await.unwrap();
    h.p.pull_next_job().await.unwrap().expect("a job");
    h.advance(Duration::from_secs(2));
    h.p.process_job(&id).await.unwrap();
    let not_before = t0() + secs(12);
    assert_eq!(h.p.get_job(&id).await.unwrap().not_before, Some(not_before));
    assert!(h.p.pull_next_job().await.unwrap().is_none());
    h.clock.set(not_before - ms(1));
    assert!(
        h.p.pull_next_job().await.unwrap().is_none(),
        "pulled 1 ms before its not_before"
    );
    h.clock.set(not_before);
    let again =
        h.p.pull_next_job()
            .await
            .unwrap()
            .expect("due at not_before");
    assert_eq!(again.id, id);
    assert_eq!(again.status, JobStatus::Processing);
    assert_eq!(again.attempt, 2);
    assert_eq!(again.picked_at, Some(not_before));
    assert_eq!(again.queued_at, t0());
}

/// R3: after `max_attempts` failed attempts the job is `error`, with exactly that many records
/// in order (attempts 1..n, the failure times) and `completed_at` set; it is never pulled again.
pub async fn r3_last_attempt_ends_in_error_with_one_record_per_attempt(store: TestStore) {
    let h = Harness::new(store);
    let id = h.p.add_job("fatal", None).await.unwrap();
    let mut failed_at = Vec::new();
    for attempt in 1..=3u32 {
        let job = h.p.pull_next_job().await.unwrap().expect("due");
        assert_eq!(job.attempt, attempt);
        h.advance(Duration::from_millis(700));
        failed_at.push(h.p.now());
        let status = h.p.process_job(&id).await.unwrap();
        let expected = if attempt < 3 {
            JobStatus::Queued
        } else {
            JobStatus::Error
        };
        assert_eq!(status, expected, "after attempt {attempt}");
        h.advance(Duration::from_secs(10));
    }
    let job = h.p.get_job(&id).await.unwrap();
    assert_eq!(job.status, JobStatus::Error);
    assert_eq!(job.attempt, 3);
    assert_eq!(job.completed_at, Some(failed_at[2]));
    assert_eq!(job.lease_token, None);
    let errors = h.p.job_errors(&id).await.unwrap();
    assert_eq!(errors.len(), 3, "one record per attempt: {errors:?}");
    for (n, record) in errors.iter().enumerate() {
        assert_eq!(record.attempt, n as u32 + 1);
        assert_eq!(record.created, failed_at[n]);
        assert_eq!(record.message, "A fatal error occurred.");
    }
    assert_ne!(errors[0].id, errors[1].id);
    assert_ne!(errors[1].id, errors[2].id);
    h.advance(Duration::from_secs(3600));
    assert!(h.p.pull_next_job().await.unwrap().is_none());
    assert_eq!(h.p.job_errors(&id).await.unwrap(), errors);
}

/// R3: a permanent error ends the job in `error` at once, with one record, attempts left or not.
pub async fn r3_permanent_error_ends_the_job_at_once(store: TestStore) {
    let h = Harness::new(store);
    let id = h.p.add_job("error", None).await.unwrap();
    assert_eq!(h.p.get_job(&id).await.unwrap().max_attempts, 3);
    h.p.pull_next_job().await.unwrap().expect("a job");
    h.advance(Duration::from_secs(1));
    assert_eq!(h.p.process_job(&id).await.unwrap(), JobStatus::Error);
    let job = h.p.get_job(&id).await.unwrap();
    assert_eq!(job.status, JobStatus::Error);
    assert_eq!(job.attempt, 1);
    assert_eq!(job.completed_at, Some(t0() + secs(1)));
    assert_eq!(job.output, None);
    let errors = h.p.job_errors(&id).await.unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].attempt, 1);
    assert_eq!(errors[0].created, t0() + secs(1));
    assert_eq!(errors[0].message, "An error occurred.");
    h.advance(Duration::from_secs(3600));
    assert!(h.p.pull_next_job().await.unwrap().is_none());
}

/// R3: a panicking handler is a failed attempt recorded with the panic message, and retried.
pub async fn r3_panic_is_recorded_with_its_message_and_retried(store: TestStore) {
    let h = Harness::new(store);
    let id = h.p.add_job("panic", None).await.unwrap();
    h.p.pull_next_job().await.unwrap().expect("a job");
    assert_eq!(h.p.process_job(&id).await.unwrap(), JobStatus::Queued);
    let job = h.p.get_job(&id).await.unwrap();
    assert_eq!(job.attempt, 1);
    assert_eq!(job.not_before, Some(t0() + secs(10)));
    let errors = h.p.job_errors(&id).await.unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].attempt, 1);
    assert!(
        errors[0].message.contains("the handler panicked"),
        "panic message kept: {:?}",
        errors[0].message
    );
    // The processor survived the panic and still runs jobs.
    let echo = h.p.add_job("echo", json!("still alive")).await.unwrap();
    assert!(h.p.process_next_job().await.unwrap());
    assert_eq!(
        h.p.job_result(&echo).await.unwrap(),
        Some(json!("still alive"))
    );
}

#[derive(Debug)]
struct ReportError {
    source: ReadError,
}

impl std::fmt::Display for ReportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("could not build the report")
    }
}

impl std::error::Error for ReportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

#[derive(Debug)]
struct ReadError {
    source: std::io::Error,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("reading table 'sales' failed")
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

fn report_error() -> ReportError {
    ReportError {
        source: ReadError {
            source: std::io::Error::other("connection reset by peer"),
        },
    }
}

fn assert_chain(message: &str) {
    let parts = [
        "could not build the report",
        "reading table 'sales' failed",
        "connection reset by peer",
    ];
    let mut from = 0;
    for part in parts {
        let at = message[from..]
            .find(part)
            .unwrap_or_else(|| panic!("{part:?} missing (or out of order) in {message:?}"));
        from += at + part.len();
    }
}

/// R3: the error record keeps the error's whole `source()` chain, outer to root, for retryable
/// (`?`) and permanent errors alike.
pub async fn r3_error_text_keeps_its_source_chain(store: TestStore) {
    let h = Harness::new(store);
    h.p.register(JobFactory::new(
        "report",
        handler_fn(|_ctx: JobContext| async move {
            let read: Result<Value, ReportError> = Err(report_error());
            Ok::<Value, JobError>(read?)
        }),
    ))
    .unwrap();
    h.p.register(JobFactory::new(
        "report_permanent",
        handler_fn(|_ctx: JobContext| async move {
            let read: Result<Value, ReportError> = Err(report_error());
            read.permanent()
        }),
    ))
    .unwrap();
    let retryable = h.p.add_job("report", None).await.unwrap();
    let permanent = h.p.add_job("report_permanent", None).await.unwrap();
    assert!(h.p.process_next_job().await.unwrap());
    assert!(h.p.process_next_job().await.unwrap());
    assert_eq!(h.status(&retryable).await, JobStatus::Queued);
    assert_eq!(h.status(&permanent).await, JobStatus::Error);
    for id in [&retryable, &permanent] {
        let errors = h.p.job_errors(id).await.unwrap();
        assert_eq!(errors.len(), 1);
        assert_chain(&errors[0].message);
    }
}

/// R3: `max_attempts` set on a factory is the number of attempts its jobs get (and at least 1).
pub async fn r3_max_attempts_comes_from_the_factory(store: TestStore) {
    let h = Harness::new(store);
    h.p.register(failing("five").max_attempts(5)).unwrap();
    h.p.register(failing("once").max_attempts(1)).unwrap();
    h.p.register(failing("zero").max_attempts(0)).unwrap();
    let five = h.p.add_job("five", None).await.unwrap();
    let once = h.p.add_job("once", None).await.unwrap();
    let zero = h.p.add_job("zero", None).await.unwrap();
    assert_eq!(h.p.get_job(&five).await.unwrap().max_attempts, 5);
    assert_eq!(h.p.get_job(&once).await.unwrap().max_attempts, 1);
    assert_eq!(h.p.get_job(&zero).await.unwrap().max_attempts, 1);
    for round in 1..=5 {
        while h.p.process_next_job().await.unwrap() {}
        h.advance(Duration::from_secs(10));
        let expected = if round < 5 {
            JobStatus::Queued
        } else {
            JobStatus::Error
        };
        assert_eq!(h.status(&five).await, expected, "after attempt {round}");
        assert_eq!(h.status(&once).await, JobStatus::Error);
        assert_eq!(h.status(&zero).await, JobStatus::Error);
    }
    let attempts =
        |errors: Vec<ErrorRecord>| errors.into_iter().map(|e| e.attempt).collect::<Vec<_>>();
    assert_eq!(
        attempts(h.p.job_errors(&five).await.unwrap()),
        vec![1, 2, 3, 4, 5]
    );
    assert_eq!(attempts(h.p.job_errors(&once).await.unwrap()), vec![1]);
    assert_eq!(attempts(h.p.job_errors(&zero).await.unwrap()), vec![1]);
    assert_eq!(h.p.get_job(&five).await.unwrap().attempt, 5);
}

/// R3: `retry_delay` set on a factory is stored on its jobs and spaces attempts to the ms.
pub async fn r3_retry_delay_comes_from_the_factory_to_the_millisecond(store: TestStore) {
    let h = Harness::new(store);
    h.p.register(failing("quick").retry_delay(Duration::from_millis(1500)))
        .unwrap();
    let id = h.p.add_job("quick", None).await.unwrap();
    assert_eq!(
        h.p.get_job(&id).await.unwrap().retry_delay,
        Duration::from_millis(1500)
    );
    h.advance(Duration::from_millis(3));
    assert!(h.p.process_next_job().await.unwrap());
    let not_before = t0() + ms(1503);
    assert_eq!(h.p.get_job(&id).await.unwrap().not_before, Some(not_before));
    h.clock.set(not_before - ms(1));
    assert!(!h.p.process_next_job().await.unwrap());
    h.clock.set(not_before);
    assert!(h.p.process_next_job().await.unwrap());
    assert_eq!(h.p.get_job(&id).await.unwrap().attempt, 2);
}

/// R3: a job that fails twice then returns output is `completed` with its output, keeps both
/// error records, and its handler saw attempts 1, 2, 3.
pub async fn r3_success_after_failures_completes_and_keeps_the_records(store: TestStore) {
    let h = Harness::new(store);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen_in = seen.clone();
    h.p.register(JobFactory::new(
        "third_time_lucky",
        handler_fn(move |ctx: JobContext| {
            let seen = seen_in.clone();
            async move {
                seen.lock().unwrap().push(ctx.attempt);
                if ctx.attempt < 3 {
                    return Err(JobError::retryable(format!(
                        "attempt {} failed",
                        ctx.attempt
                    )));
                }
                Ok(json!({"attempt": ctx.attempt, "input": ctx.input}))
            }
        }),
    ))
    .unwrap();
    let id = h.p.add_job("third_time_lucky", json!("x")).await.unwrap();
    for _ in 0..3 {
        assert!(h.p.process_next_job().await.unwrap());
        h.advance(Duration::from_secs(10));
    }
    assert!(!h.p.process_next_job().await.unwrap());
    assert_eq!(*seen.lock().unwrap(), vec![1, 2, 3]);
    let job = h.p.get_job(&id).await.unwrap();
    assert_eq!(job.status, JobStatus::Completed);
    assert_eq!(job.attempt, 3);
    assert_eq!(job.output, Some(json!({"attempt": 3, "input": "x"})));
    let errors = h.p.job_errors(&id).await.unwrap();
    let texts: Vec<(u32, String)> = errors.into_iter().map(|e| (e.attempt, e.message)).collect();
    assert_eq!(
        texts,
        vec![
            (1, "attempt 1 failed".to_string()),
            (2, "attempt 2 failed".to_string())
        ]
    );
}

/// R3/R7: `process_job` on a processor that lacks the factory fails the attempt with a record
/// naming the job, and R3 applies: retried, then `error` after the last attempt — it never
/// vanishes or loops.
pub async fn r3_missing_factory_fails_with_a_record_naming_the_job(store: TestStore) {
    let h = Harness::new(store);
    let other = h.processor("other");
    let id = h.p.add_job("echo", json!({"n": 1})).await.unwrap();
    for attempt in 1..=3u32 {
        let claimed = h.p.pull_next_job().await.unwrap().expect("due");
        assert_eq!(claimed.id, id);
        let status = other.process_job(&id).await.unwrap();
        let expected = if attempt < 3 {
            JobStatus::Queued
        } else {
            JobStatus::Error
        };
        assert_eq!(status, expected, "after attempt {attempt}");
        assert_eq!(h.status(&id).await, expected);
        let errors = h.p.job_errors(&id).await.unwrap();
        assert_eq!(errors.len(), attempt as usize);
        let last = errors.last().unwrap();
        assert_eq!(last.attempt, attempt);
        assert!(
            last.message.contains("echo"),
            "the record names the job: {:?}",
            last.message
        );
        let text = last.message.to_lowercase();
        assert!(
            text.contains("unknown") || text.contains("factory") || text.contains("registered"),
            "the record says the factory is missing: {:?}",
            last.message
        );
        h.advance(Duration::from_secs(10));
    }
    let job = h.p.get_job(&id).await.unwrap();
    assert_eq!(job.output, None);
    assert_eq!(job.attempt, 3);
    assert!(h.p.pull_next_job().await.unwrap().is_none());
}

/// R7: registering a name twice is `DuplicateFactory`; the first factory stays in force.
pub async fn r7_registering_a_name_twice_is_an_error_and_keeps_the_first(store: TestStore) {
    let h = Harness::new(store);
    let second = JobFactory::new(
        "echo",
        handler_fn(|_ctx: JobContext| async move { Ok::<_, JobError>(json!("second")) }),
    )
    .max_attempts(7)
    .default_input(json!("second default"));
    match h.p.register(second) {
        Err(Error::DuplicateFactory(name)) => assert_eq!(name, "echo"),
        other => panic!("expected DuplicateFactory, got {other:?}"),
    }
    let info =
        h.p.factories()
            .into_iter()
            .find(|f| f.name == "echo")
            .unwrap();
    assert_eq!(info.max_attempts, 3);
    assert_eq!(info.default_input, Value::Null);
    let id = h.p.add_job("echo", json!({"first": true})).await.unwrap();
    assert_eq!(h.p.get_job(&id).await.unwrap().max_attempts, 3);
    assert!(h.p.process_next_job().await.unwrap());
    assert_eq!(
        h.p.job_result(&id).await.unwrap(),
        Some(json!({"first": true}))
    );
}

/// R7: factories are listed by name with their defaults; each processor lists its own.
pub async fn r7_factories_are_listed(store: TestStore) {
    let h = Harness::new(store);
    let names: Vec<String> = h.p.factories().into_iter().map(|f| f.name).collect();
    assert_eq!(names, vec!["echo", "error", "fatal", "panic", "sleep"]);
    let sleep =
        h.p.factories()
            .into_iter()
            .find(|f| f.name == "sleep")
            .unwrap();
    assert_eq!(sleep.retry_delay, Duration::from_secs(1));
    assert_eq!(sleep.max_attempts, 3);
    let other = h.processor("other");
    assert!(other.factories().is_empty());
    other
        .register(
            failing("b")
                .max_attempts(2)
                .retry_delay(Duration::from_millis(250))
                .default_input(json!([1])),
        )
        .unwrap();
    other.register(failing("a")).unwrap();
    let listed = other.factories();
    assert_eq!(
        listed.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
        vec!["a", "b"]
    );
    assert_eq!(listed[1].max_attempts, 2);
    assert_eq!(listed[1].retry_delay, Duration::from_millis(250));
    assert_eq!(listed[1].default_input, json!([1]));
    assert_eq!(h.p.factories().len(), 5, "registries are per processor");
}

/// R7: a worker pulls only names its processor registered: an unknown job (even the oldest)
/// stays queued and visible while the others are processed, by hand and by a running worker.
pub async fn r7_worker_pulls_only_registered_names(store: TestStore) {
    let h = Harness::new(store);
    let other = h.processor("other");
    other
        .register(JobFactory::new(
            "special",
            handler_fn(|_ctx: JobContext| async move { Ok::<_, JobError>(json!("special")) }),
        ))
        .unwrap();
    let special = other.add_job("special", json!(0)).await.unwrap();
    h.advance(Duration::from_millis(1));
    let a = h.p.add_job("echo", json!(1)).await.unwrap();
    let b = h.p.add_job("echo", json!(2)).await.unwrap();
    assert!(h.p.process_next_job().await.unwrap());
    assert_eq!(h.status(&a).await, JobStatus::Completed);
    let c = h.p.add_job("echo", json!(3)).await.unwrap();
    h.p.start_processor();
    h.wait_for_status(&b, JobStatus::Completed).await;
    h.wait_for_status(&c, JobStatus::Completed).await;
    h.p.stop_processor().await;
    assert!(!h.p.process_next_job().await.unwrap());
    let job = h.p.get_job(&special).await.unwrap();
    assert_eq!(job.status, JobStatus::Queued);
    assert_eq!(job.attempt, 0);
    assert!(h.p.job_errors(&special).await.unwrap().is_empty());
    let queued =
        h.p.list_jobs(&JobQuery {
            statuses: vec![JobStatus::Queued],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        queued.into_iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![special.clone()]
    );
    assert!(other.process_next_job().await.unwrap());
    assert_eq!(
        other.job_result(&special).await.unwrap(),
        Some(json!("special"))
    );
}

/// R7: `ProcessorBuilder::job_names` narrows pulling to registered names of that list.
pub async fn r7_job_names_narrows_pulling(store: TestStore) {
    let h = Harness::new(store);
    let narrow = Processor::builder_with(h.jobs.clone(), h.items.clone())
        .name("narrow")
        .clock(h.clock.clone())
        .job_names(["echo", "ghost"])
        .build();
    narrow
        .register(JobFactory::new(
            "echo",
            handler_fn(|ctx: JobContext| async move { Ok::<_, JobError>(ctx.input) }),
        ))
        .unwrap();
    narrow.register(failing("fatal")).unwrap();
    let other = h.processor("other");
    other.register(failing("ghost")).unwrap();
    let fatal = h.p.add_job("fatal", None).await.unwrap();
    let ghost = other.add_job("ghost", None).await.unwrap();
    h.advance(Duration::from_millis(1));
    let echo = h.p.add_job("echo", json!("e")).await.unwrap();
    let pulled = narrow.pull_next_job().await.unwrap().expect("the echo job");
    assert_eq!(pulled.id, echo);
    assert!(narrow.pull_next_job().await.unwrap().is_none());
    assert_eq!(h.status(&fatal).await, JobStatus::Queued);
    assert_eq!(h.status(&ghost).await, JobStatus::Queued);
    // Narrowing limits pulling only: the narrowed processor still runs what it is handed.
    assert_eq!(
        narrow.process_job(&echo).await.unwrap(),
        JobStatus::Completed
    );
}
