//! R2 pull order: oldest `queued_at` first, ties by smaller id, among jobs that are due.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use remote_core::{Claim, Job, JobId, JobStatus, LeaseToken};
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
            r2_future_retry_time_never_blocks_later_jobs,
            r2_retried_job_keeps_its_place_in_line,
            r2_add_job_at_orders_by_queued_at_not_by_not_before,
            r2_claim_with_limit_returns_jobs_in_pull_order,
            r2_batch_claim_skips_jobs_that_are_not_due,
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
        h.jobs
            .insert_jobs(&[job_with(&ids[i], t0(), i as i64)])
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
    h.jobs.insert_jobs(&jobs).await.unwrap();
    h.advance(Duration::from_secs(2));
    let expected: Vec<JobId> = ids.into_iter().rev().collect();
    assert_eq!(pull_all(&h).await, expected);
}

/// R2: an older job whose not-before time is in the future does not hide younger due jobs.
pub async fn r2_future_retry_time_never_blocks_later_jobs(store: TestStore) {
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

/// R2/R3: once its retry time has passed, a retried job goes before jobs added after it.
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

/// R2 (store): a claim with a limit returns at most that many jobs, in pull order, and the
/// next claim continues where it stopped.
pub async fn r2_claim_with_limit_returns_jobs_in_pull_order(store: TestStore) {
    let h = Harness::new(store);
    let ids = sorted_ids(6);
    // queued_at: ids[5] oldest … ids[0] youngest, with ids[2] and ids[3] tied.
    let offsets = [50, 40, 30, 30, 20, 10];
    let jobs: Vec<Job> = ids
        .iter()
        .zip(offsets)
        .enumerate()
        .map(|(i, (id, off))| job_with(id, t0() + ms(off), i as i64))
        .collect();
    h.jobs.insert_jobs(&jobs).await.unwrap();
    let names = vec!["echo".to_string()];
    let now = t0() + TimeDelta::seconds(1);
    let claim = |token: i64, limit: usize| Claim {
        names: &names,
        now,
        lease_until: now + TimeDelta::seconds(30),
        token: LeaseToken(token),
        limit,
    };
    let first = h.jobs.claim_jobs(&claim(1, 4)).await.unwrap();
    let got: Vec<JobId> = first.iter().map(|j| j.id.clone()).collect();
    assert_eq!(
        got,
        vec![
            ids[5].clone(),
            ids[4].clone(),
            ids[2].clone(),
            ids[3].clone()
        ]
    );
    for job in &first {
        assert_eq!(job.status, JobStatus::Processing);
        assert_eq!(job.lease_token, Some(LeaseToken(1)));
        assert_eq!(job.retry_counter, 1);
        assert_eq!(job.picked_at, Some(now));
    }
    let rest = h.jobs.claim_jobs(&claim(2, 4)).await.unwrap();
    let got: Vec<JobId> = rest.iter().map(|j| j.id.clone()).collect();
    assert_eq!(got, vec![ids[1].clone(), ids[0].clone()]);
    assert!(h.jobs.claim_jobs(&claim(3, 4)).await.unwrap().is_empty());
}

/// R2 (store): a batch claim takes only due jobs (not-before unset or ≤ now, inclusive) and
/// leaves the others queued and untouched.
pub async fn r2_batch_claim_skips_jobs_that_are_not_due(store: TestStore) {
    let h = Harness::new(store);
    let now = t0() + TimeDelta::seconds(100);
    let ids = sorted_ids(5);
    let not_before = [
        Some(now + ms(1)),
        None,
        Some(now),
        Some(now + TimeDelta::seconds(3600)),
        Some(now - ms(1)),
    ];
    let jobs: Vec<Job> = ids
        .iter()
        .zip(not_before)
        .enumerate()
        .map(|(i, (id, nb))| Job {
            retry_time: nb,
            ..job_with(id, t0() + ms(i as i64), i as i64)
        })
        .collect();
    h.jobs.insert_jobs(&jobs).await.unwrap();
    let names = vec!["echo".to_string()];
    let claimed = h
        .jobs
        .claim_jobs(&Claim {
            names: &names,
            now,
            lease_until: now + TimeDelta::seconds(30),
            token: LeaseToken(9),
            limit: 10,
        })
        .await
        .unwrap();
    let got: Vec<JobId> = claimed.into_iter().map(|j| j.id).collect();
    assert_eq!(got, vec![ids[1].clone(), ids[2].clone(), ids[4].clone()]);
    for i in [0, 3] {
        let job = h.jobs.get_job(&ids[i]).await.unwrap().unwrap();
        assert_eq!(job, jobs[i], "a job that is not due is untouched");
    }
}
