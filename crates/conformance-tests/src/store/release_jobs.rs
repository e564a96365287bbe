//! `JobStore::release_jobs` (R23, R24): claimed attempts that never started go back to the
//! queue as if never claimed, each only under its own token.

use remote_core::{Job, JobStatus, Lease};
use serde_json::json;

use super::{claim, claim_one, completed, id, ids, insert, job, jobs, records, stored, t};
use crate::calls::{cancel, lease, renew, token};
use crate::support::TestStore;

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_store_release_jobs {
    ($make:expr) => {
        $crate::__area!($make; store::release_jobs {
            r23_a_released_job_is_as_if_never_claimed,
            r23_release_counts_back_the_attempt_and_keeps_earlier_ones,
            r23_a_released_job_keeps_its_place_in_line,
            r23_each_entry_is_fenced_on_its_own,
            r23_the_released_attempts_token_is_refused_afterwards,
            r23_an_empty_batch_answers_nothing,
        });
    };
}

async fn release(store: &TestStore, leases: &[Lease]) -> Vec<bool> {
    store.jobs.release_jobs(leases).await.unwrap()
}

/// R23: a job claimed once and released reads back exactly as it was inserted (`queued`,
/// `attempt` 0, no `picked_at`, no lease), has no error record, and its next claim is its
/// first attempt again.
pub async fn r23_a_released_job_is_as_if_never_claimed(store: TestStore) {
    let inserted = jobs(1);
    insert(&*store.jobs, &inserted).await;
    claim_one(&*store.jobs, t(1), token(4)).await;
    assert_eq!(
        release(&store, &[lease(&id(1), token(4))]).await,
        vec![true]
    );
    assert_eq!(stored(&*store.jobs, &id(1)).await, inserted[0]);
    assert!(records(&*store.jobs, &id(1)).await.is_empty());
    let again = claim_one(&*store.jobs, t(2), token(5)).await;
    assert_eq!(again.attempt, 1);
}

/// R23: releasing a job in its second attempt counts that attempt back (`attempt` 1 again)
/// and keeps what its earlier attempt left: `picked_at` set, `not_before`, its record.
pub async fn r23_release_counts_back_the_attempt_and_keeps_earlier_ones(store: TestStore) {
    insert(&*store.jobs, &jobs(1)).await;
    claim_one(&*store.jobs, t(1), token(1)).await;
    let retry = super::retried(&id(1), token(1), 1, "first attempt failed", t(5), t(2));
    assert_eq!(
        store.jobs.record_outcomes(&[retry]).await.unwrap(),
        vec![true]
    );
    let before = stored(&*store.jobs, &id(1)).await;
    let second = claim_one(&*store.jobs, t(10), token(2)).await;
    assert_eq!(second.attempt, 2);
    assert_eq!(
        release(&store, &[lease(&id(1), token(2))]).await,
        vec![true]
    );
    let after = stored(&*store.jobs, &id(1)).await;
    assert!(after.picked_at.is_some(), "an attempt is still counted");
    assert_eq!(
        after,
        Job {
            picked_at: after.picked_at,
            ..before
        }
    );
    assert_eq!(after.attempt, 1);
    assert_eq!(after.not_before, Some(t(5)));
    assert_eq!(records(&*store.jobs, &id(1)).await.len(), 1);
}

/// R23: a released job is claimed again before jobs queued after it.
pub async fn r23_a_released_job_keeps_its_place_in_line(store: TestStore) {
    insert(&*store.jobs, &jobs(3)).await;
    assert_eq!(
        ids(&claim(&*store.jobs, t(1), token(1), 2).await),
        vec![id(1), id(2)]
    );
    assert_eq!(
        release(&store, &[lease(&id(1), token(1))]).await,
        vec![true]
    );
    assert_eq!(claim_one(&*store.jobs, t(2), token(2)).await.id, id(1));
    assert_eq!(claim_one(&*store.jobs, t(2), token(3)).await.id, id(3));
}

/// R23: in one batch each entry is fenced on its own: a wrong token, a job never claimed, a
/// completed job, a cancelled job and an unknown id are answered `false` and left unchanged,
/// in the order of the entries.
pub async fn r23_each_entry_is_fenced_on_its_own(store: TestStore) {
    insert(&*store.jobs, &jobs(6)).await;
    assert_eq!(claim(&*store.jobs, t(1), token(1), 5).await.len(), 5);
    assert_eq!(
        store
            .jobs
            .record_outcomes(&[completed(&id(3), token(1), json!("done"), t(2))])
            .await
            .unwrap(),
        vec![true]
    );
    assert_eq!(
        cancel(&*store.jobs, &id(4), t(2)).await.unwrap(),
        Some(JobStatus::Processing)
    );
    let untouched: Vec<Job> = futures::future::join_all([2, 3, 4, 6].map(|n| {
        let jobs = store.jobs.clone();
        async move { stored(&*jobs, &id(n)).await }
    }))
    .await;
    let batch = vec![
        lease(&id(1), token(1)),
        lease(&id(2), token(2)),
        lease(&id(6), token(1)),
        lease(&id(3), token(1)),
        lease(&id(4), token(1)),
        lease(&id(99), token(1)),
        lease(&id(5), token(1)),
    ];
    assert_eq!(
        release(&store, &batch).await,
        vec![true, false, false, false, false, false, true]
    );
    for n in [1, 5] {
        let job = stored(&*store.jobs, &id(n)).await;
        assert_eq!(job.status, JobStatus::Queued, "job {n}");
        assert_eq!(job.attempt, 0, "job {n}");
    }
    for (n, was) in [2, 3, 4, 6].into_iter().zip(&untouched) {
        assert_eq!(
            &stored(&*store.jobs, &id(n)).await,
            was,
            "job {n} unchanged"
        );
    }
    assert_eq!(store.jobs.get_job(&id(99)).await.unwrap(), None);
}

/// R23: after a release the claim's token no longer ends, renews or releases the attempt.
pub async fn r23_the_released_attempts_token_is_refused_afterwards(store: TestStore) {
    insert(&*store.jobs, &[job(1, t(0))]).await;
    claim_one(&*store.jobs, t(1), token(4)).await;
    assert_eq!(
        release(&store, &[lease(&id(1), token(4))]).await,
        vec![true]
    );
    let released = stored(&*store.jobs, &id(1)).await;
    assert_eq!(
        store
            .jobs
            .record_outcomes(&[completed(&id(1), token(4), json!("late"), t(2))])
            .await
            .unwrap(),
        vec![false]
    );
    assert!(!renew(&*store.jobs, &id(1), token(4), t(60)).await.unwrap());
    assert_eq!(
        release(&store, &[lease(&id(1), token(4))]).await,
        vec![false]
    );
    assert_eq!(stored(&*store.jobs, &id(1)).await, released);
}

/// R23: an empty batch is answered with no entries.
pub async fn r23_an_empty_batch_answers_nothing(store: TestStore) {
    assert_eq!(release(&store, &[]).await, Vec::<bool>::new());
}
