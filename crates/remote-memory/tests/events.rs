//! Attempt events: what metrics and dashboards read from a processor.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use remote_core::{
    handler_fn, AttemptEvent, AttemptOutcome, JobContext, JobError, JobFactory, JobStatus,
    ManualClock, Processor,
};
use remote_memory::MemoryStore;
use serde_json::{json, Value};

#[tokio::test]
async fn attempts_report_start_latency_and_outcome() {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
    ));
    let p = Processor::builder(MemoryStore::new())
        .clock(clock.clone())
        .build();
    p.register(JobFactory::new(
        "echo",
        handler_fn(|ctx: JobContext| async move { Ok::<_, JobError>(ctx.input) }),
    ))
    .unwrap();
    p.register(
        JobFactory::new(
            "fail",
            handler_fn(
                |_ctx: JobContext| async move { Err::<Value, _>(JobError::retryable("no")) },
            ),
        )
        .max_attempts(2),
    )
    .unwrap();
    let mut events = p.subscribe();
    let echo = p.add_job("echo", json!(1)).await.unwrap();
    clock.advance(Duration::from_millis(1500));
    assert!(p.process_next_job().await.unwrap());
    match events.recv().await.unwrap() {
        AttemptEvent::Started {
            job_id,
            attempt,
            queue_latency,
            ..
        } => {
            assert_eq!(job_id, echo);
            assert_eq!(attempt, 1);
            assert_eq!(queue_latency, Duration::from_millis(1500));
        }
        other => panic!("expected a start, got {other:?}"),
    }
    match events.recv().await.unwrap() {
        AttemptEvent::Finished {
            job_id, outcome, ..
        } => {
            assert_eq!(job_id, echo);
            assert_eq!(outcome, AttemptOutcome::Completed);
        }
        other => panic!("expected a finish, got {other:?}"),
    }

    let fail = p.add_job("fail", None).await.unwrap();
    let mut outcomes = Vec::new();
    for _ in 0..2 {
        assert!(p.process_next_job().await.unwrap());
        clock.advance(Duration::from_secs(10));
    }
    while let Ok(event) = events.try_recv() {
        if let AttemptEvent::Finished {
            job_id, outcome, ..
        } = event
        {
            assert_eq!(job_id, fail);
            outcomes.push(outcome);
        }
    }
    assert_eq!(
        outcomes,
        vec![AttemptOutcome::Retrying, AttemptOutcome::Failed]
    );
    assert_eq!(p.job_status(&fail).await.unwrap(), JobStatus::Error);
    assert!(p.running_jobs().is_empty());
}
