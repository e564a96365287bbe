//! `JobStore::expired_leases` (R8): a read of `processing` jobs whose lease ended at or
//! before `now`, oldest lease first, at most `limit`.

use chrono::{DateTime, Utc};
use remote_core::{JobId, JobStatus, JobStore, LeaseToken};
use serde_json::json;

use super::{all_jobs, claim, completed, id, ids, insert, jobs, ms, names, secs, stored, t};
use crate::calls::{cancel, expired, lease, token};
use crate::support::{t0, TestStore};

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_store_expired_leases {
    ($make:expr) => {
        $crate::__area!($make; store::expired_leases {
            r8_expired_leases_are_listed_oldest_lease_first_within_limit,
            r8_a_lease_ending_exactly_now_has_expired,
            r8_only_processing_jobs_are_listed,
            r8_listing_changes_nothing,
            r8_limit_zero_lists_nothing,
        });
    };
}

async fn listed(store: &dyn JobStore, now: DateTime<Utc>, limit: usize) -> Vec<JobId> {
    ids(&expired(store, now, limit).await.unwrap())
}

/// Claims the next job at `t0` with a lease of `lease` seconds under `token`.
async fn claim_with_lease(store: &dyn JobStore, lease: i64, token: LeaseToken) {
    let names = names(&[super::ECHO]);
    let claimed = store
        .claim_jobs(&remote_core::ClaimJobs {
            names: &names,
            now: t0(),
            lease_until: t0() + secs(lease),
            token,
            limit: 1,
        })
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
}

/// R8: expired leases are listed oldest lease first, at most `limit`; live leases and
/// completed jobs are not.
pub async fn r8_expired_leases_are_listed_oldest_lease_first_within_limit(store: TestStore) {
    insert(&*store.jobs, &jobs(4)).await;
    for (lease, n) in [(20, 1), (10, 2), (30, 3), (5, 4)] {
        claim_with_lease(&*store.jobs, lease, token(n)).await;
    }
    assert_eq!(
        store
            .jobs
            .record_outcomes(&[completed(&id(4), token(4), json!(4), t(1))])
            .await
            .unwrap(),
        vec![true]
    );
    assert!(listed(&*store.jobs, t(9), 10).await.is_empty());
    assert_eq!(listed(&*store.jobs, t(25), 10).await, vec![id(2), id(1)]);
    assert_eq!(listed(&*store.jobs, t(25), 1).await, vec![id(2)]);
    assert_eq!(
        listed(&*store.jobs, t(30), 10).await,
        vec![id(2), id(1), id(3)]
    );
}

/// R8: a lease ending exactly at `now` has expired; one millisecond earlier it has not.
pub async fn r8_a_lease_ending_exactly_now_has_expired(store: TestStore) {
    insert(&*store.jobs, &jobs(1)).await;
    claim_with_lease(&*store.jobs, 30, token(1)).await;
    assert!(listed(&*store.jobs, t(30) - ms(1), 10).await.is_empty());
    assert_eq!(listed(&*store.jobs, t(30), 10).await, vec![id(1)]);
}

/// R8: cancelled, released and completed jobs have no lease to expire; only the job still
/// `processing` is listed.
pub async fn r8_only_processing_jobs_are_listed(store: TestStore) {
    insert(&*store.jobs, &jobs(4)).await;
    assert_eq!(claim(&*store.jobs, t(0), token(1), 4).await.len(), 4);
    assert_eq!(
        cancel(&*store.jobs, &id(1), t(1)).await.unwrap(),
        Some(JobStatus::Processing)
    );
    assert_eq!(
        store
            .jobs
            .release_jobs(&[lease(&id(2), token(1))])
            .await
            .unwrap(),
        vec![true]
    );
    assert_eq!(
        store
            .jobs
            .record_outcomes(&[completed(&id(3), token(1), json!(3), t(1))])
            .await
            .unwrap(),
        vec![true]
    );
    assert_eq!(listed(&*store.jobs, t(3_600), 10).await, vec![id(4)]);
}

/// R8: listing is a read: every job reads back as before, and listing again gives the same.
pub async fn r8_listing_changes_nothing(store: TestStore) {
    insert(&*store.jobs, &jobs(3)).await;
    assert_eq!(claim(&*store.jobs, t(0), token(1), 3).await.len(), 3);
    let before = all_jobs(&*store.jobs).await;
    let by_id = |mut jobs: Vec<remote_core::Job>| {
        jobs.sort_by(|a, b| a.id.cmp(&b.id));
        jobs
    };
    let first = by_id(expired(&*store.jobs, t(100), 10).await.unwrap());
    assert_eq!(first, before, "every expired lease listed, as stored");
    assert_eq!(
        by_id(expired(&*store.jobs, t(100), 10).await.unwrap()),
        first
    );
    assert_eq!(all_jobs(&*store.jobs).await, before);
    assert_eq!(
        stored(&*store.jobs, &id(1)).await.status,
        JobStatus::Processing
    );
}

/// R8: a limit of 0 lists nothing.
pub async fn r8_limit_zero_lists_nothing(store: TestStore) {
    insert(&*store.jobs, &jobs(2)).await;
    assert_eq!(claim(&*store.jobs, t(0), token(1), 2).await.len(), 2);
    assert!(listed(&*store.jobs, t(100), 0).await.is_empty());
}
