//! `JobStore::renew_leases` (R8, R24): leases are extended only while their job is
//! `processing` under the claim's token; nothing else changes.

use remote_core::{Job, JobStatus, Lease, RenewLeases};
use serde_json::json;

use super::{claim, claim_one, completed, id, insert, jobs, retried, stored, t};
use crate::calls::{cancel, lease, renew, token};
use crate::support::TestStore;

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_store_renew_leases {
    ($make:expr) => {
        $crate::__area!($make; store::renew_leases {
            r8_renew_extends_the_lease_under_the_current_token_only,
            r24_each_entry_is_fenced_on_its_own,
            r8_an_expired_lease_not_yet_rescued_is_renewed,
            r8_a_rescued_attempt_is_not_renewed,
            r24_an_empty_batch_answers_nothing,
        });
    };
}

async fn renew_all(
    store: &TestStore,
    leases: &[Lease],
    lease_until: chrono::DateTime<chrono::Utc>,
) -> Vec<bool> {
    store
        .jobs
        .renew_leases(&RenewLeases {
            leases,
            lease_until,
        })
        .await
        .unwrap()
}

/// R8: the claim's token renews the lease (only `lease_until` changes); another token, a
/// completed attempt and an unknown id are refused.
pub async fn r8_renew_extends_the_lease_under_the_current_token_only(store: TestStore) {
    insert(&*store.jobs, &jobs(1)).await;
    let claimed = claim_one(&*store.jobs, t(0), token(1)).await;
    assert!(renew(&*store.jobs, &id(1), token(1), t(50)).await.unwrap());
    let renewed = Job {
        lease_until: Some(t(50)),
        ..claimed
    };
    assert_eq!(stored(&*store.jobs, &id(1)).await, renewed);
    assert!(!renew(&*store.jobs, &id(1), token(2), t(90)).await.unwrap());
    assert_eq!(stored(&*store.jobs, &id(1)).await, renewed);
    assert_eq!(
        store
            .jobs
            .record_outcomes(&[completed(&id(1), token(1), json!("out"), t(5))])
            .await
            .unwrap(),
        vec![true]
    );
    assert!(!renew(&*store.jobs, &id(1), token(1), t(90)).await.unwrap());
    let done = stored(&*store.jobs, &id(1)).await;
    assert_eq!(done.status, JobStatus::Completed);
    assert_eq!(done.lease_until, None);
    assert!(!renew(&*store.jobs, &id(99), token(1), t(90)).await.unwrap());
}

/// R24: in one batch each lease is renewed on its own: a wrong token, a completed job, a
/// cancelled job, a job never claimed and an unknown id are answered `false` and unchanged,
/// in the order of the entries; the others get the new `lease_until` and nothing else.
pub async fn r24_each_entry_is_fenced_on_its_own(store: TestStore) {
    insert(&*store.jobs, &jobs(6)).await;
    assert_eq!(claim(&*store.jobs, t(0), token(1), 5).await.len(), 5);
    assert_eq!(
        store
            .jobs
            .record_outcomes(&[completed(&id(3), token(1), json!("done"), t(1))])
            .await
            .unwrap(),
        vec![true]
    );
    assert_eq!(
        cancel(&*store.jobs, &id(4), t(1)).await.unwrap(),
        Some(JobStatus::Processing)
    );
    let before: Vec<Job> = futures::future::join_all((1..=6).map(|n| {
        let jobs = store.jobs.clone();
        async move { stored(&*jobs, &id(n)).await }
    }))
    .await;
    let batch = vec![
        lease(&id(1), token(1)),
        lease(&id(2), token(2)),
        lease(&id(3), token(1)),
        lease(&id(4), token(1)),
        lease(&id(99), token(1)),
        lease(&id(6), token(1)),
        lease(&id(5), token(1)),
    ];
    assert_eq!(
        renew_all(&store, &batch, t(75)).await,
        vec![true, false, false, false, false, false, true]
    );
    for (n, was) in (1..=6).zip(before) {
        let expected = if n == 1 || n == 5 {
            Job {
                lease_until: Some(t(75)),
                ..was
            }
        } else {
            was
        };
        assert_eq!(stored(&*store.jobs, &id(n)).await, expected, "job {n}");
    }
}

/// R8: a lease that has expired but was not rescued is still the worker's: renewing it
/// under its token applies.
pub async fn r8_an_expired_lease_not_yet_rescued_is_renewed(store: TestStore) {
    insert(&*store.jobs, &jobs(1)).await;
    claim_one(&*store.jobs, t(0), token(1)).await;
    assert!(renew(&*store.jobs, &id(1), token(1), t(100)).await.unwrap());
    let job = stored(&*store.jobs, &id(1)).await;
    assert_eq!(job.lease_until, Some(t(100)));
    assert!(crate::calls::expired(&*store.jobs, t(99), 10)
        .await
        .unwrap()
        .is_empty());
}

/// R8: once its attempt was rescued, the old worker's renewal is refused.
pub async fn r8_a_rescued_attempt_is_not_renewed(store: TestStore) {
    insert(&*store.jobs, &jobs(1)).await;
    claim_one(&*store.jobs, t(0), token(1)).await;
    let rescue = retried(&id(1), token(1), 1, "worker lost", t(40), t(30));
    assert_eq!(store.jobs.rescue_jobs(&[rescue]).await.unwrap(), vec![true]);
    let rescued = stored(&*store.jobs, &id(1)).await;
    assert!(!renew(&*store.jobs, &id(1), token(1), t(90)).await.unwrap());
    assert_eq!(stored(&*store.jobs, &id(1)).await, rescued);
}

/// R24: an empty batch is answered with no entries.
pub async fn r24_an_empty_batch_answers_nothing(store: TestStore) {
    assert_eq!(renew_all(&store, &[], t(10)).await, Vec::<bool>::new());
}
