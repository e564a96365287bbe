//! R2 pull order: oldest `queued_at` first, ties by smaller id, among jobs that are due.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use remote_core::{Job, JobId, JobStatus};
use serde_json::json;

use crate::support::{t0, Harness, TestStore};

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_ordering {
    ($make:expr) => {
        $crate::__area!($make; ordering {
            r2_oldest_queued_at_is_pulled_first,
            r2_ties_are_broken_by_the_smaller_id,
            r2_queued_at_is_ordered_to_the_millisecond,
            r2_future_not_before_never_blocks_later_jobs,
            r2_retried_job_keeps_its_place_in_line,
            r2_add_job_at_orders_by_queued_at_not_by_not_before,
        });
    };
}

fn ms(n: i64) -> TimeDelta {
    TimeDelta::milliseconds(n)
}

/// A queued echo job with the given id and `queued_at`.
fn job_with(id: &JobId, queued_at: DateTime<Utc>, n: i64) -> Job {
    Job {
        id: id.clone(),
        ..Job::queued("echo", json!(n), 3, Duration::from_secs(10), queued_at)
    }
}

/// `n` fresh ids, smallest first.
fn sorted_ids(n: usize) -> Vec<JobId> {
    let mut ids: Vec<JobId> = (0..n).map(|_| JobId::new()).collect();
    ids.sort();
    ids
}

async fn pull_all(h: &Harness) -> Vec<JobId> {
    let mut pulled = Vec::new();
    while let Some(job) = h.p.pull_next_job().await.unwrap() {
        pulled.push(job.id);
    }
    pulled
}

/// R2: jobs come out oldest `queued_at` first, whatever order (and ids) they were added in.
pub async fn r2_oldest_queued_at_is_pulled_first(store: TestStore) {
    let h = Harness::new(store);
    let mut added = Vec::new();
    for offset in [3, 1, 4, 0, 2] {
        h.clock.set(t0() + TimeDelta::seconds(offset));
        added.push((offset, h.p.add_job("echo", json!(offset)).await.unwrap()));
    }
    h.clock.set(t0() + TimeDelta::seconds(10));
    added.sort_by_key(|(offset, _)| *offset);
    let expected: Vec<JobId> = added.into_iter().map(|(_, id)| id).collect();
    assert_eq!(pull_all(&h).await, expected);
}

/// R2: jobs with the same `queued_at` come out smaller id first, not in insertion order.
pub async fn r2_ties_are_broken_by_the_smaller_id(store: TestStore) {
    let h = Harness::new(store);
    let ids = sorted_ids(4);
    for i in [2, 0, 3, 1] {
        crate::calls::insert(&*h.jobs, &[job_with(&ids[i], t0(), i as i64)])
            .await
            .unwrap();
    }
    assert_eq!(pull_all(&h).await, ids);
}

/// R2: `queued_at` one millisecond apart orders jobs even when their ids say the opposite.
pub async fn r2_queued_at_is_ordered_to_the_millisecond(store: TestStore) {
    let h = Harness::new(store);
    let ids = sorted_ids(3);
    // The smallest id is the youngest job, by one millisecond each.
    let jobs: Vec<Job> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| job_with(id, t0() + ms(1002 - i as i64), i as i64))
        .collect();
    crate::calls::insert(&*h.jobs, &jobs).await.unwrap();
    h.advance(Duration::from_secs(2));
    let expected: Vec<JobId> = ids.into_iter().rev().collect();
    assert_eq!(pull_all(&h).await, expected);
}

/// R2: an older job whose not-before time is in the future does not hide younger due jobs.
pub async fn r2_future_not_before_never_blocks_later_jobs(store: TestStore) {
    let h = Harness::new(store);
    let later =
        h.p.add_job_at("echo", json!("later"), t0() + TimeDelta::seconds(60))
            .await
            .unwrap();
    let failing = h.p.add_job("fatal", None).await.unwrap();
    assert!(h.p.process_next_job().await.unwrap());
    assert_eq!(h.status(&failing).await, JobStatus::Queued);
    h.advance(Duration::from_millis(1));
    let now = h.p.add_job("echo", json!("now")).await.unwrap();
    assert_eq!(pull_all(&h).await, vec![now]);
    h.advance(Duration::from_secs(10));
    assert_eq!(pull_all(&h).await, vec![failing]);
    h.advance(Duration::from_secs(50));
    assert_eq!(pull_all(&h).await, vec![later]);
}

/// R2/R3: once its `not_before` has passed, a retried job goes before jobs added after it.
pub async fn r2_retried_job_keeps_its_place_in_line(store: TestStore) {
    let h = Harness::new(store);
    let retried = h.p.add_job("fatal", None).await.unwrap();
    h.advance(Duration::from_secs(1));
    let second = h.p.add_job("echo", json!(2)).await.unwrap();
    assert_eq!(h.p.pull_next_job().await.unwrap().unwrap().id, retried);
    h.p.process_job(&retried).await.unwrap(); // retry at t0 + 11 s
    h.advance(Duration::from_secs(1));
    let third = h.p.add_job("echo", json!(3)).await.unwrap();
    h.advance(Duration::from_secs(1));
    let fourth = h.p.add_job("echo", json!(4)).await.unwrap();
    assert_eq!(h.p.pull_next_job().await.unwrap().unwrap().id, second);
    h.clock.set(t0() + TimeDelta::seconds(11));
    assert_eq!(pull_all(&h).await, vec![retried, third, fourth]);
}

/// R2: jobs added with `add_job_at` are ordered by when they were added, not by not-before.
pub async fn r2_add_job_at_orders_by_queued_at_not_by_not_before(store: TestStore) {
    let h = Harness::new(store);
    let a =
        h.p.add_job_at("echo", json!("a"), t0() + TimeDelta::seconds(5))
            .await
            .unwrap();
    h.advance(Duration::from_millis(1));
    let b =
        h.p.add_job_at("echo", json!("b"), t0() + TimeDelta::seconds(1))
            .await
            .unwrap();
    h.advance(Duration::from_millis(1));
    let c = h.p.add_job("echo", json!("c")).await.unwrap();
    h.advance(Duration::from_millis(1));
    let d =
        h.p.add_job_at("echo", json!("d"), t0() - TimeDelta::seconds(60))
            .await
            .unwrap();
    h.advance(Duration::from_secs(10));
    assert_eq!(pull_all(&h).await, vec![a, b, c, d]);
}
