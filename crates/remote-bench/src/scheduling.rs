//! Scheduler throughput: Delay items all due at once, fired by one or more schedulers —
//! separate processors on separate pools or connections, each calling `fire_due_items` in a
//! loop, as `start_scheduler` does — and checked afterwards for one job per occurrence.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use futures::{StreamExt, TryStreamExt};
use remote_core::{ItemId, JobId, JobQuery, JobStatus, SchedulerItem, WorkerConfig};
use serde::Serialize;
use serde_json::json;

use crate::cpu::{self, Usage};
use crate::ours::processor;
use crate::target::{Open, Target};
use crate::{BenchResult, JOB};

/// Seconds between two occurrences of every item.
pub(crate) const DELAY_SECS: u64 = 2;

/// Pause of a scheduler whose pass found nothing due (`start_scheduler`'s shortest wait).
const IDLE: Duration = Duration::from_millis(10);

/// What one scheduler run measured and found.
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct SchedulerRun {
    /// Which of the bench's rounds this run was (from 1).
    pub round: usize,
    /// Schedulers firing at once.
    pub schedulers: usize,
    /// Delay items, all due when the schedulers start.
    pub items: usize,
    /// Time until every item had fired once, in ms.
    pub first_round_ms: f64,
    /// Occurrences fired per second while the first round was due.
    pub per_second: f64,
    /// Whether the first round ended before any item was due again, so that the rate counts
    /// first occurrences only (else it is read from the jobs' times).
    pub exact: bool,
    /// Occurrences the schedulers reported fired.
    pub fired: usize,
    /// Jobs the items added.
    pub jobs: usize,
    /// Violation: occurrences with two jobs (jobs of one item less than the delay apart).
    pub doubled: usize,
    /// Violation: items left due longer than the firing lock after the schedulers stopped.
    pub missed: usize,
    /// Violation: jobs of no item.
    pub stray: usize,
    /// Violation: fired occurrences without a job, or jobs no firing reported.
    pub unaccounted: usize,
    /// Violation: jobs whose id is not the one their occurrence derives
    /// (`JobId::for_occurrence` of the item and the time it was due).
    pub wrong_ids: usize,
    /// Largest delay from an occurrence to its job after the first round, in ms.
    pub max_delay_ms: i64,
    /// How long the schedulers ran, in seconds.
    pub seconds: f64,
    /// Passes that failed with a store error (each fired again after a pause, as the
    /// scheduler worker does).
    pub failed_passes: usize,
    /// The first of those errors.
    pub first_error: Option<String>,
    /// The machine's CPU time from the start to the end of the first round, where it can be
    /// read.
    pub cpu: Option<Usage>,
}

impl SchedulerRun {
    /// Sum of the violation counters.
    pub(crate) fn violations(&self) -> usize {
        self.doubled + self.missed + self.stray + self.unaccounted + self.wrong_ids
    }
}

/// `t` cut to whole milliseconds, as stores keep times and occurrence ids use them.
fn millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

/// Runs `schedulers` schedulers over `items` Delay items (every [`DELAY_SECS`] s, all due at
/// the start) for `rounds` periods, then checks one job per occurrence. Each scheduler has
/// fired an item of its own before the start, so that the first round does not count each
/// connection's first statements (three cold schedulers paid them three times in a round of
/// about 100 ms).
pub(crate) async fn measure(
    target: &Target,
    items: usize,
    schedulers: usize,
    rounds: u32,
) -> BenchResult<SchedulerRun> {
    let space = target.space();
    let admin = target
        .open(
            &space,
            Open {
                pool: 4,
                wakeups: false,
            },
        )
        .await?;
    let admin = processor(&admin, WorkerConfig::simple())?;
    let mut firing = Vec::with_capacity(schedulers);
    for _ in 0..schedulers {
        let store = target
            .open(
                &space,
                Open {
                    pool: 2,
                    wakeups: false,
                },
            )
            .await?;
        firing.push(processor(&store, WorkerConfig::simple())?);
    }
    let warm_due = millis(Utc::now() - TimeDelta::seconds(1));
    for scheduler in &firing {
        let warm = SchedulerItem::delay(JOB, DELAY_SECS)
            .with_input(json!({ "warm": true }))
            .with_next_call_time(warm_due);
        let warm = admin.add_scheduler_item(warm).await?;
        scheduler.fire_due_items().await?;
        admin.remove_scheduler_item(&warm).await?;
        admin
            .cancel_job(&JobId::for_occurrence(&warm, warm_due))
            .await?;
    }
    admin.remove_jobs(&[JobStatus::Cancelled]).await?;
    let due = millis(Utc::now() - TimeDelta::seconds(1));
    let ids: Vec<ItemId> = futures::stream::iter(0..items)
        .map(|i| {
            let admin = admin.clone();
            async move {
                let item = SchedulerItem::delay(JOB, DELAY_SECS)
                    .with_input(json!({ "i": i }))
                    .with_next_call_time(due);
                admin.add_scheduler_item(item).await
            }
        })
        .buffered(16)
        .try_collect()
        .await?;

    let period = Duration::from_secs(DELAY_SECS);
    let run_for = period * rounds.max(1) + Duration::from_millis(500);
    let sampling = cpu::sample(Duration::from_millis(5), Instant::now() + run_for);
    let started = Instant::now();
    let started_at = Utc::now();
    let stop_at = started + run_for;
    let mut tasks = tokio::task::JoinSet::new();
    for scheduler in firing {
        tasks.spawn(async move {
            let mut passes: Vec<(Instant, usize)> = Vec::new();
            let mut failed: Vec<String> = Vec::new();
            let mut backoff = IDLE;
            while Instant::now() < stop_at {
                match scheduler.fire_due_items().await {
                    Ok(fired) if fired > 0 => {
                        passes.push((Instant::now(), fired));
                        backoff = IDLE;
                    }
                    Ok(_) => tokio::time::sleep(IDLE).await,
                    // As the scheduler worker does: log, back off, fire again.
                    Err(e) => {
                        failed.push(crate::chain(&e));
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(1));
                    }
                }
            }
            (passes, failed)
        });
    }
    let mut passes = Vec::new();
    let mut failed = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (p, f) = joined.map_err(|e| e.to_string())?;
        passes.extend(p);
        failed.extend(f);
    }
    let stopped_at = Utc::now();
    let samples = sampling.await.unwrap_or_default();
    let seconds = started.elapsed().as_secs_f64();
    passes.sort_by_key(|(at, _)| *at);
    let fired: usize = passes.iter().map(|(_, n)| n).sum();

    let jobs = admin
        .list_jobs(&JobQuery {
            job_name: Some(JOB.into()),
            oldest_first: true,
            ..Default::default()
        })
        .await?;
    let stored = admin.scheduler_items().await?;
    let mut run = SchedulerRun {
        schedulers,
        items,
        fired,
        jobs: jobs.len(),
        unaccounted: fired.abs_diff(jobs.len()),
        seconds,
        failed_passes: failed.len(),
        first_error: failed.into_iter().next(),
        ..Default::default()
    };
    let mut times: HashMap<usize, Vec<(DateTime<Utc>, &JobId)>> = HashMap::new();
    for job in &jobs {
        match job
            .input
            .get("i")
            .and_then(serde_json::Value::as_u64)
            .and_then(|i| usize::try_from(i).ok())
            .filter(|i| *i < items)
        {
            Some(i) => times
                .entry(i)
                .or_default()
                .push((millis(job.queued_at), &job.id)),
            None => run.stray += 1,
        }
    }
    let delay = TimeDelta::seconds(i64::try_from(DELAY_SECS)?);
    let mut last_first = started_at;
    for (i, item) in ids.iter().enumerate() {
        let mut fired = times.remove(&i).unwrap_or_default();
        fired.sort();
        if let Some((first, _)) = fired.first() {
            last_first = last_first.max(*first);
        }
        // Each occurrence is due `delay` after the firing before it (the first at `due`), and
        // its job's id is derived from the item and that time.
        let mut expected = due;
        for (k, (at, id)) in fired.iter().enumerate() {
            if k > 0 {
                let gap = *at - fired[k - 1].0;
                if gap < delay {
                    run.doubled += 1;
                } else {
                    run.max_delay_ms = run.max_delay_ms.max((gap - delay).num_milliseconds());
                }
            }
            if **id != JobId::for_occurrence(item, expected) {
                run.wrong_ids += 1;
            }
            expected = *at + delay;
        }
    }
    // Firing lock (1 s) and a pass of every scheduler: an item due longer than that when the
    // schedulers stopped was left behind.
    let allowed = TimeDelta::milliseconds(1_500);
    let ours: HashSet<&ItemId> = ids.iter().collect();
    run.missed = stored
        .iter()
        .filter(|item| ours.contains(&item.id))
        .filter(|item| item.next_call_time.is_none_or(|t| t < stopped_at - allowed))
        .count()
        + ids.len().saturating_sub(stored.len());

    let mut count = 0;
    let first_round = passes.iter().find_map(|(at, n)| {
        count += n;
        (count >= items).then_some(*at)
    });
    match first_round {
        Some(at) if at.duration_since(started) < period => {
            run.first_round_ms = at.duration_since(started).as_secs_f64() * 1e3;
            run.exact = true;
        }
        _ => {
            run.first_round_ms = (last_first - started_at).num_milliseconds().max(1) as f64;
            run.exact = false;
        }
    }
    run.per_second = items as f64 / (run.first_round_ms / 1e3).max(1e-9);
    run.cpu = cpu::between(
        &samples,
        started,
        started + Duration::from_secs_f64(run.first_round_ms / 1e3),
    );
    Ok(run)
}
