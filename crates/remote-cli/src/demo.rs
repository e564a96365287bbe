//! `remote demo`: the story of m01.remote's doctests in the store — an echo job, sleeping
//! jobs, failures with and without retries, a delayed and a cancelled job, scheduler items —
//! served so that it moves within seconds.

use std::time::Duration;

use chrono::TimeDelta;
use remote_core::{
    handler_fn, CronLists, JobContext, JobError, JobFactory, Processor, SchedulerItem,
};
use serde_json::{json, Value};

use crate::error::CliResult;

/// Jobs of the demo that fail: `demo.fail` permanently, `demo.flaky` until attempt `succeed_on`.
pub fn demo_factories() -> Vec<JobFactory> {
    vec![
        JobFactory::new(
            "demo.fail",
            handler_fn(|_ctx: JobContext| async move {
                Err::<Value, _>(JobError::permanent(
                    "demo: this job always fails with a permanent error (no retry)",
                ))
            }),
        ),
        JobFactory::new(
            "demo.flaky",
            handler_fn(|ctx: JobContext| async move {
                let succeed_on = ctx
                    .input
                    .get("succeed_on")
                    .and_then(Value::as_u64)
                    .unwrap_or(2);
                if u64::from(ctx.attempt) < succeed_on {
                    Err(JobError::retryable(format!(
                        "demo: attempt {} failed (this job succeeds on attempt {succeed_on})",
                        ctx.attempt
                    )))
                } else {
                    Ok(json!({"succeeded_on_attempt": ctx.attempt}))
                }
            }),
        )
        .retry_delay(Duration::from_secs(3)),
    ]
}

fn is_demo_item(item: &SchedulerItem) -> bool {
    item.input.get("demo").is_some()
}

/// Adds the demo's jobs and scheduler items (replacing the items of an earlier demo).
pub async fn fill(processor: &Processor) -> CliResult<Vec<String>> {
    for item in processor.scheduler_items().await? {
        if is_demo_item(&item) {
            processor.remove_scheduler_item(&item.id).await?;
        }
    }
    let mut told = Vec::new();
    let id = processor.add_job("echo", json!({"foo": "bar"})).await?;
    told.push(format!(
        "{id}  echo {{\"foo\": \"bar\"}}: completes at once"
    ));
    for seconds in [4, 8, 15] {
        let id = processor
            .add_job("sleep", json!({"seconds": seconds}))
            .await?;
        told.push(format!(
            "{id}  sleep {seconds}s: processing, then completed"
        ));
    }
    let id = processor
        .add_job("demo.fail", json!({"reason": "shows a permanent error"}))
        .await?;
    told.push(format!("{id}  demo.fail: error at once, one error record"));
    let id = processor
        .add_job("demo.flaky", json!({"succeed_on": 2}))
        .await?;
    told.push(format!(
        "{id}  demo.flaky: fails once, retried after 3s, completes"
    ));
    let id = processor
        .add_job("demo.flaky", json!({"succeed_on": 9}))
        .await?;
    told.push(format!(
        "{id}  demo.flaky: fails 3 times, 3 error records, ends in error"
    ));
    let now = processor.now();
    let id = processor
        .add_job_at(
            "echo",
            json!({"delayed": "20 s"}),
            now + TimeDelta::seconds(20),
        )
        .await?;
    told.push(format!("{id}  echo, delayed: queued until 20 s from now"));
    let id = processor
        .add_job_at("sleep", json!({"seconds": 1}), now + TimeDelta::hours(1))
        .await?;
    processor.cancel_job(&id).await?;
    told.push(format!("{id}  sleep: cancelled before it ran"));
    let items = [
        SchedulerItem::delay("echo", 10).with_input(json!({"demo": "every 10 s"})),
        SchedulerItem::crontab("echo", "* * * * *", "Europe/Zurich")
            .with_input(json!({"demo": "every minute (crontab, Europe/Zurich)"})),
        SchedulerItem::cron(
            "echo",
            CronLists {
                minute: vec![0, 15, 30, 45],
                ..CronLists::default()
            },
        )
        .with_input(json!({"demo": "quarter hours (list cron)"})),
        SchedulerItem::delay("sleep", 5)
            .with_input(json!({"demo": "paused", "seconds": 1}))
            .with_active(false),
    ];
    for item in items {
        let rule = crate::output::rule(&item.schedule);
        let active = item.active;
        let id = processor.add_scheduler_item(item).await?;
        told.push(format!(
            "{id}  scheduler item: {rule}{}",
            if active { "" } else { " (paused)" }
        ));
    }
    Ok(told)
}
