//! `JobStore::claim_jobs` (R2, R3, R7, R8): due queued jobs are taken in pull order
//! (`queued_at`, then id), atomically, each by one claim only.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use remote_core::{ClaimJobs, Job, JobId, JobStatus, JobStore, LeaseToken};
use serde_json::json;

use super::{
    all_jobs, claim, claim_one, id, ids, insert, job, jobs, ms, named, names, secs, stored, t,
};
use crate::calls::token;
use crate::support::{t0, TestStore, PATIENCE};

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_store_claim_jobs {
    ($make:expr) => {
        $crate::__area!($make; store::claim_jobs {
            r2_claim_takes_the_oldest_queued_at_first,
            r2_claim_breaks_ties_on_queued_at_by_the_smaller_id,
            r2_claim_orders_queued_at_to_the_millisecond,
            r2_claim_skips_jobs_not_due_yet,
            r2_a_job_not_due_never_blocks_later_jobs,
            r2_claim_returns_at_most_limit_jobs_and_the_next_claim_continues,
            r2_claim_with_limit_zero_claims_nothing,
            r7_claim_takes_only_the_given_names,
            r2_claim_takes_only_queued_jobs,
            r3_claim_writes_status_picked_at_attempt_lease_and_token,
            r8_each_claim_writes_its_own_lease_and_token,
            r2_a_claimed_job_is_not_claimed_again,
            r2_concurrent_claims_never_share_a_job,
            r2_two_handles_claiming_at_once_never_share_a_job,
            r26_claim_takes_the_highest_priority_first,
            r26_equal_priorities_keep_queued_at_then_id_order,
            r26_a_retried_job_keeps_its_priority,
        });
    };
}

/// Claims one job at a time until none is left; their ids in claim order.
async fn drain(store: &dyn JobStore, now: DateTime<Utc>) -> Vec<JobId> {
    let mut claimed = Vec::new();
    for n in 0..1_000 {
        let got = claim(store, now, token(1_000 + n), 1).await;
        match got.as_slice() {
            [] => return claimed,
            [one] => claimed.push(one.id.clone()),
            more => panic!("a claim with limit 1 returned {} jobs", more.len()),
        }
    }
    panic!("claims never ran dry: {} jobs claimed", claimed.len());
}

/// R2: jobs come out oldest `queued_at` first, whatever order they were inserted in and
/// whatever their ids say.
pub async fn r2_claim_takes_the_oldest_queued_at_first(store: TestStore) {
    // Ids in the opposite order of queued_at, inserted in a third order.
    for (n, offset) in [(2, 4), (5, 1), (1, 5), (4, 2), (3, 3)] {
        insert(&*store.jobs, &[job(n, t(offset))]).await;
    }
    assert_eq!(
        drain(&*store.jobs, t(10)).await,
        vec![id(5), id(4), id(3), id(2), id(1)]
    );
}

/// R2: jobs with the same `queued_at` come out smaller id first, not in insertion order.
pub async fn r2_claim_breaks_ties_on_queued_at_by_the_smaller_id(store: TestStore) {
    for n in [3, 1, 4, 2] {
        insert(&*store.jobs, &[job(n, t(0))]).await;
    }
    let batch = claim(&*store.jobs, t(1), token(1), 10).await;
    assert_eq!(ids(&batch), vec![id(1), id(2), id(3), id(4)]);
}

/// R2: `queued_at` one millisecond apart orders jobs even when their ids say the opposite.
pub async fn r2_claim_orders_queued_at_to_the_millisecond(store: TestStore) {
    let batch: Vec<Job> = (1..=3)
        .map(|n| job(n, t0() + ms(1_003 - n as i64)))
        .collect();
    insert(&*store.jobs, &batch).await;
    assert_eq!(drain(&*store.jobs, t(2)).await, vec![id(3), id(2), id(1)]);
}

/// R2: a claim takes only due jobs (`not_before` unset or ≤ now, the bound inclusive) and
/// leaves the others queued and untouched.
pub async fn r2_claim_skips_jobs_not_due_yet(store: TestStore) {
    let now = t(100);
    let not_before = [
        Some(now + ms(1)),
        None,
        Some(now),
        Some(now + secs(3_600)),
        Some(now - ms(1)),
    ];
    let batch: Vec<Job> = not_before
        .iter()
        .enumerate()
        .map(|(i, nb)| Job {
            not_before: *nb,
            ..job(i as u64 + 1, t0() + ms(i as i64))
        })
        .collect();
    insert(&*store.jobs, &batch).await;
    let claimed = claim(&*store.jobs, now, token(9), 10).await;
    assert_eq!(ids(&claimed), vec![id(2), id(3), id(5)]);
    for not_due in [&batch[0], &batch[3]] {
        assert_eq!(
            &stored(&*store.jobs, &not_due.id).await,
            not_due,
            "a job that is not due is untouched"
        );
    }
    let later = claim(&*store.jobs, now + ms(1), token(10), 10).await;
    assert_eq!(ids(&later), vec![id(1)], "due one millisecond later");
}

/// R2: the oldest job, not due yet, does not hide younger due jobs from a claim of one.
pub async fn r2_a_job_not_due_never_blocks_later_jobs(store: TestStore) {
    let blocked = Job {
        not_before: Some(t(60)),
        ..job(1, t(0))
    };
    insert(&*store.jobs, &[blocked, job(2, t(1)), job(3, t(2))]).await;
    assert_eq!(claim_one(&*store.jobs, t(10), token(1)).await.id, id(2));
    assert_eq!(claim_one(&*store.jobs, t(10), token(2)).await.id, id(3));
    assert!(claim(&*store.jobs, t(10), token(3), 1).await.is_empty());
    assert_eq!(claim_one(&*store.jobs, t(60), token(4)).await.id, id(1));
}

/// R2: a claim returns at most `limit` jobs, in pull order, and the next claim continues
/// where it stopped.
pub async fn r2_claim_returns_at_most_limit_jobs_and_the_next_claim_continues(store: TestStore) {
    // queued_at: job 6 oldest … job 1 youngest, with jobs 3 and 4 tied.
    let offsets = [50, 40, 30, 30, 20, 10];
    let batch: Vec<Job> = offsets
        .iter()
        .enumerate()
        .map(|(i, off)| job(i as u64 + 1, t0() + ms(*off)))
        .collect();
    insert(&*store.jobs, &batch).await;
    let now = t(1);
    let first = claim(&*store.jobs, now, token(1), 4).await;
    assert_eq!(ids(&first), vec![id(6), id(5), id(3), id(4)]);
    let rest = claim(&*store.jobs, now, token(2), 4).await;
    assert_eq!(ids(&rest), vec![id(2), id(1)]);
    assert!(claim(&*store.jobs, now, token(3), 4).await.is_empty());
}

/// R2: a claim with limit 0 claims nothing and changes nothing.
pub async fn r2_claim_with_limit_zero_claims_nothing(store: TestStore) {
    let batch = jobs(3);
    insert(&*store.jobs, &batch).await;
    assert!(claim(&*store.jobs, t(1), token(1), 0).await.is_empty());
    assert_eq!(all_jobs(&*store.jobs).await, batch);
}

/// R7: a claim takes only jobs whose name is in the list, in pull order; an empty list or an
/// unknown name takes none, and jobs of other names stay queued and untouched.
pub async fn r7_claim_takes_only_the_given_names(store: TestStore) {
    let batch: Vec<Job> = ["a", "b", "c", "b"]
        .iter()
        .enumerate()
        .map(|(i, name)| named(name, i as u64 + 1, t0() + ms(i as i64)))
        .collect();
    insert(&*store.jobs, &batch).await;
    let claim_named = |wanted: &'static [&'static str], n: i64| {
        let jobs = store.jobs.clone();
        async move {
            let wanted = names(wanted);
            ids(&jobs
                .claim_jobs(&ClaimJobs {
                    names: &wanted,
                    now: t(1),
                    lease_until: t(31),
                    token: token(n),
                    limit: 10,
                })
                .await
                .unwrap())
        }
    };
    assert!(
        claim_named(&[], 1).await.is_empty(),
        "an empty name list matches none"
    );
    assert!(claim_named(&["zzz"], 2).await.is_empty());
    assert_eq!(claim_named(&["c", "b"], 3).await, vec![id(2), id(3), id(4)]);
    assert_eq!(stored(&*store.jobs, &id(1)).await, batch[0]);
    assert_eq!(claim_named(&["a", "b", "c"], 4).await, vec![id(1)]);
}

/// R2: jobs in any status but `queued` are never claimed, whatever their times say.
pub async fn r2_claim_takes_only_queued_jobs(store: TestStore) {
    let others: Vec<Job> = [
        JobStatus::Processing,
        JobStatus::Completed,
        JobStatus::Cancelled,
        JobStatus::Error,
    ]
    .into_iter()
    .enumerate()
    .map(|(i, status)| Job {
        status,
        ..job(i as u64 + 1, t(0))
    })
    .collect();
    insert(&*store.jobs, &others).await;
    insert(&*store.jobs, &[job(9, t(1))]).await;
    assert_eq!(
        ids(&claim(&*store.jobs, t(5), token(1), 10).await),
        vec![id(9)]
    );
    for other in &others {
        assert_eq!(&stored(&*store.jobs, &other.id).await, other);
    }
}

/// R3, R8: a claim sets `processing`, `picked_at = now`, `attempt + 1`, the lease and the
/// token, leaves every other field as it was, and returns each job as stored.
pub async fn r3_claim_writes_status_picked_at_attempt_lease_and_token(store: TestStore) {
    let earlier = Job {
        attempt: 2,
        picked_at: Some(t(3)),
        input: json!({"keep": ["me", 1]}),
        ..job(1, t0() + ms(7))
    };
    insert(&*store.jobs, &[earlier.clone(), job(2, t(1))]).await;
    let now = t0() + ms(10_123);
    let lease_until = now + ms(45_001);
    let names = names(&[super::ECHO]);
    let claimed = store
        .jobs
        .claim_jobs(&ClaimJobs {
            names: &names,
            now,
            lease_until,
            token: token(-77),
            limit: 2,
        })
        .await
        .unwrap();
    assert_eq!(ids(&claimed), vec![id(1), id(2)]);
    let expected = Job {
        status: JobStatus::Processing,
        attempt: 3,
        picked_at: Some(now),
        lease_until: Some(lease_until),
        lease_token: Some(token(-77)),
        ..earlier
    };
    assert_eq!(claimed[0], expected);
    assert_eq!(claimed[1].attempt, 1);
    assert_eq!(claimed[1].picked_at, Some(now));
    for job in &claimed {
        assert_eq!(
            &stored(&*store.jobs, &job.id).await,
            job,
            "returned as stored"
        );
    }
}

/// R8: each claim writes its own lease end and token on the jobs it takes.
pub async fn r8_each_claim_writes_its_own_lease_and_token(store: TestStore) {
    insert(&*store.jobs, &jobs(3)).await;
    let names = names(&[super::ECHO]);
    for (n, lease) in [(1, 7), (2, 60), (3, 1)] {
        let now = t(n);
        let claimed = store
            .jobs
            .claim_jobs(&ClaimJobs {
                names: &names,
                now,
                lease_until: now + secs(lease),
                token: token(n * 100),
                limit: 1,
            })
            .await
            .unwrap();
        assert_eq!(ids(&claimed), vec![id(n as u64)]);
    }
    for (n, lease) in [(1, 7), (2, 60), (3, 1)] {
        let job = stored(&*store.jobs, &id(n as u64)).await;
        assert_eq!(job.lease_until, Some(t(n) + secs(lease)));
        assert_eq!(job.lease_token, Some(token(n * 100)));
    }
}

/// R2: a claimed job is not claimed again, however late the next claim comes.
pub async fn r2_a_claimed_job_is_not_claimed_again(store: TestStore) {
    insert(&*store.jobs, &jobs(2)).await;
    assert_eq!(claim(&*store.jobs, t(1), token(1), 10).await.len(), 2);
    assert!(claim(&*store.jobs, t(1), token(2), 10).await.is_empty());
    assert!(
        claim(&*store.jobs, t(3_600), token(3), 10).await.is_empty(),
        "an expired lease is recovered by rescue_jobs, never by a claim"
    );
}

/// Claims batches of `limit` on `store` until none is left; (job, token) per claimed job.
async fn claim_until_empty(
    store: Arc<dyn JobStore>,
    claimer: i64,
    limit: usize,
) -> Vec<(JobId, LeaseToken)> {
    let mut mine = Vec::new();
    for round in 0..1_000 {
        let token = token(claimer * 1_000_000 + round);
        let batch = claim(&*store, t(1), token, limit).await;
        if batch.is_empty() {
            return mine;
        }
        assert!(batch.len() <= limit, "limit kept");
        for job in batch {
            assert_eq!(job.lease_token, Some(token));
            mine.push((job.id, token));
        }
        tokio::task::yield_now().await;
    }
    panic!("claims never ran dry: {} jobs claimed", mine.len());
}

/// Runs the claimers, checks that together they took every job exactly once and that each
/// stored token is that of the one claim that returned the job.
async fn assert_claimed_once(
    claimers: Vec<tokio::task::JoinHandle<Vec<(JobId, LeaseToken)>>>,
    store: &dyn JobStore,
    n: usize,
) {
    let mut claimed: HashMap<JobId, LeaseToken> = HashMap::new();
    for task in claimers {
        for (id, token) in tokio::time::timeout(PATIENCE, task).await.unwrap().unwrap() {
            assert!(
                claimed.insert(id.clone(), token).is_none(),
                "job {id} claimed twice"
            );
        }
    }
    assert_eq!(claimed.len(), n, "every job claimed");
    for job in all_jobs(store).await {
        assert_eq!(job.status, JobStatus::Processing);
        assert_eq!(job.attempt, 1);
        assert_eq!(job.lease_token, claimed.get(&job.id).copied());
    }
}

/// R2: eight claimers taking batches of 10 at once get disjoint batches covering all 500
/// jobs.
pub async fn r2_concurrent_claims_never_share_a_job(store: TestStore) {
    insert(&*store.jobs, &jobs(500)).await;
    let claimers = (0..8)
        .map(|c| tokio::spawn(claim_until_empty(store.jobs.clone(), c, 10)))
        .collect();
    assert_claimed_once(claimers, &*store.jobs, 500).await;
}

/// R2: claimers on two handles on the same data (as two processes), taking batches of 7 at
/// once, never take the same job, and together take all 600.
pub async fn r2_two_handles_claiming_at_once_never_share_a_job(store: TestStore) {
    let other = store.another_handle().await;
    let batch: Vec<Job> = (1..=600)
        .map(|n| job(n, t0() + ms(n as i64 % 50)))
        .collect();
    insert(&*store.jobs, &batch).await;
    let seen: HashSet<JobId> = ids(&all_jobs(&*other.jobs).await).into_iter().collect();
    assert_eq!(seen.len(), 600, "the second handle sees the jobs");
    let claimers = (0..6)
        .map(|c| {
            let handle = if c % 2 == 0 { &store } else { &other };
            tokio::spawn(claim_until_empty(handle.jobs.clone(), c, 7))
        })
        .collect();
    assert_claimed_once(claimers, &*store.jobs, 600).await;
}

/// A queued `echo` job `n` of `priority`, queued at `t0 + n` ms.
fn prioritised(n: u64, priority: i16) -> Job {
    Job {
        priority,
        ..job(n, t0() + ms(n as i64))
    }
}

/// R26: a higher priority is claimed first, however late it was queued; negative priorities
/// come after the default 0.
pub async fn r26_claim_takes_the_highest_priority_first(store: TestStore) {
    insert(
        &*store.jobs,
        &[
            prioritised(1, 0),
            prioritised(2, -5),
            prioritised(3, 10),
            prioritised(4, 1),
            prioritised(5, i16::MAX),
            prioritised(6, i16::MIN),
        ],
    )
    .await;
    let claimed = claim(&*store.jobs, t(1), token(1), 6).await;
    assert_eq!(
        ids(&claimed),
        vec![id(5), id(3), id(4), id(1), id(2), id(6)]
    );
}

/// R26: among jobs of one priority the order is `queued_at`, then id, as without priorities.
pub async fn r26_equal_priorities_keep_queued_at_then_id_order(store: TestStore) {
    let at = |n: u64, queued: i64, priority: i16| Job {
        priority,
        ..job(n, t0() + ms(queued))
    };
    insert(
        &*store.jobs,
        &[
            at(4, 5, 2),
            at(3, 5, 2),
            at(1, 9, 2),
            at(2, 1, 7),
            at(5, 0, 0),
        ],
    )
    .await;
    let mut order = Vec::new();
    for n in 0..5 {
        order.push(claim_one(&*store.jobs, t(1), token(n)).await.id);
    }
    assert_eq!(order, vec![id(2), id(3), id(4), id(1), id(5)]);
}

/// R26: a retried job goes back to its place by priority: before lower ones queued earlier.
pub async fn r26_a_retried_job_keeps_its_priority(store: TestStore) {
    insert(&*store.jobs, &[prioritised(1, 0), prioritised(2, 3)]).await;
    let high = claim_one(&*store.jobs, t(1), token(1)).await;
    assert_eq!(high.id, id(2));
    let retry = super::retried(&high.id, token(1), 1, "again", t(2), t(2));
    assert_eq!(
        store.jobs.record_outcomes(&[retry]).await.unwrap(),
        vec![true]
    );
    assert_eq!(stored(&*store.jobs, &id(2)).await.priority, 3);
    assert_eq!(claim_one(&*store.jobs, t(2), token(2)).await.id, id(2));
}
