//! `JobStore::rescue_jobs` (R8, R9): an attempt whose worker was lost ends exactly as
//! `record_outcomes` would end it, but only once its lease has expired (`lease_until <= now`)
//! and only under its own token.

use std::collections::HashMap;

use remote_core::{Job, JobId, JobStatus, Outcome};
use serde_json::json;

use super::{
    claim, claim_one, completed, failed, id, insert, jobs, record_of, records, retried, secs,
    stored, t, LEASE,
};
use crate::calls::{cancel, renew, token};
use crate::support::{TestStore, PATIENCE};

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_store_rescue_jobs {
    ($make:expr) => {
        $crate::__area!($make; store::rescue_jobs {
            r8_rescue_applies_once_the_lease_has_expired,
            r8_rescue_of_a_live_lease_is_refused_and_changes_nothing,
            r8_rescue_refuses_a_lease_renewed_meanwhile,
            r8_rescue_ends_an_attempt_for_good_like_record_outcomes,
            r8_each_entry_is_fenced_on_its_own,
            r8_an_empty_batch_answers_nothing,
            r9_concurrent_rescues_through_two_handles_apply_once_per_attempt,
        });
    };
}

async fn rescue(store: &TestStore, outcomes: &[Outcome]) -> Vec<bool> {
    store.jobs.rescue_jobs(outcomes).await.unwrap()
}

/// R8: a rescue one millisecond before the lease ends is refused; at the lease's end it
/// applies like `record_outcomes`: record appended, `queued` again at `not_before`, lease
/// cleared.
pub async fn r8_rescue_applies_once_the_lease_has_expired(store: TestStore) {
    insert(&*store.jobs, &jobs(1)).await;
    let claimed = claim_one(&*store.jobs, t(1), token(3)).await;
    let lease_until = t(1) + LEASE;
    let early = lease_until - super::ms(1);
    assert_eq!(
        rescue(
            &store,
            &[retried(&id(1), token(3), 1, "lost", early, early)]
        )
        .await,
        vec![false]
    );
    assert_eq!(stored(&*store.jobs, &id(1)).await, claimed);
    let outcome = retried(
        &id(1),
        token(3),
        1,
        "worker lost",
        lease_until + secs(10),
        lease_until,
    );
    assert_eq!(
        rescue(&store, std::slice::from_ref(&outcome)).await,
        vec![true]
    );
    let expected = Job {
        status: JobStatus::Queued,
        not_before: Some(lease_until + secs(10)),
        lease_until: None,
        lease_token: None,
        ..claimed
    };
    assert_eq!(stored(&*store.jobs, &id(1)).await, expected);
    assert_eq!(
        records(&*store.jobs, &id(1)).await,
        vec![record_of(&outcome).unwrap()]
    );
}

/// R8: a rescue while the lease is live is refused, with any kind of outcome; the job, its
/// records and its worker's hold on it are unchanged.
pub async fn r8_rescue_of_a_live_lease_is_refused_and_changes_nothing(store: TestStore) {
    insert(&*store.jobs, &jobs(1)).await;
    let claimed = claim_one(&*store.jobs, t(1), token(3)).await;
    let now = t(10);
    let attempts = [
        failed(&id(1), token(3), 1, "lost", now),
        retried(&id(1), token(3), 1, "lost", now, now),
        completed(&id(1), token(3), json!("rescued"), now),
    ];
    assert_eq!(rescue(&store, &attempts).await, vec![false, false, false]);
    assert_eq!(stored(&*store.jobs, &id(1)).await, claimed);
    assert!(records(&*store.jobs, &id(1)).await.is_empty());
    assert_eq!(
        store
            .jobs
            .record_outcomes(&[completed(&id(1), token(3), json!("ok"), now)])
            .await
            .unwrap(),
        vec![true],
        "the live worker still ends its attempt"
    );
}

/// R8: a lease renewed after a recoverer saw it expired is live again, and the rescue is
/// refused.
pub async fn r8_rescue_refuses_a_lease_renewed_meanwhile(store: TestStore) {
    insert(&*store.jobs, &jobs(1)).await;
    claim_one(&*store.jobs, t(0), token(3)).await;
    let now = t(31);
    let seen = crate::calls::expired(&*store.jobs, now, 10).await.unwrap();
    assert_eq!(seen.len(), 1, "the recoverer sees the expired lease");
    assert!(renew(&*store.jobs, &id(1), token(3), now + secs(30))
        .await
        .unwrap());
    assert_eq!(
        rescue(
            &store,
            &[retried(&id(1), token(3), 1, "lost", now + secs(10), now)]
        )
        .await,
        vec![false]
    );
    let job = stored(&*store.jobs, &id(1)).await;
    assert_eq!(job.status, JobStatus::Processing);
    assert_eq!(job.lease_until, Some(now + secs(30)));
    assert!(records(&*store.jobs, &id(1)).await.is_empty());
}

/// R8: a rescue with a `Failed` outcome ends the job in `error` with `completed_at = now`
/// and the record, exactly as `record_outcomes` would.
pub async fn r8_rescue_ends_an_attempt_for_good_like_record_outcomes(store: TestStore) {
    insert(&*store.jobs, &jobs(1)).await;
    let claimed = claim_one(&*store.jobs, t(1), token(3)).await;
    let now = t(100);
    let outcome = failed(&id(1), token(3), 1, "worker lost on the last attempt", now);
    assert_eq!(
        rescue(&store, std::slice::from_ref(&outcome)).await,
        vec![true]
    );
    let expected = Job {
        status: JobStatus::Error,
        completed_at: Some(now),
        lease_until: None,
        lease_token: None,
        ..claimed
    };
    assert_eq!(stored(&*store.jobs, &id(1)).await, expected);
    assert_eq!(
        records(&*store.jobs, &id(1)).await,
        vec![record_of(&outcome).unwrap()]
    );
}

/// R8: in one batch each entry is fenced on its own: expired leases under their token are
/// rescued, while a live lease, a wrong token, a job never claimed, a completed job, a
/// cancelled job and an unknown id are answered `false`, in the order of the entries.
pub async fn r8_each_entry_is_fenced_on_its_own(store: TestStore) {
    insert(&*store.jobs, &jobs(7)).await;
    assert_eq!(claim(&*store.jobs, t(0), token(1), 5).await.len(), 5);
    let live = claim_one(&*store.jobs, t(50), token(2)).await;
    assert_eq!(live.id, id(6));
    assert_eq!(
        store
            .jobs
            .record_outcomes(&[completed(&id(4), token(1), json!("done"), t(5))])
            .await
            .unwrap(),
        vec![true]
    );
    assert_eq!(
        cancel(&*store.jobs, &id(5), t(5)).await.unwrap(),
        Some(JobStatus::Processing)
    );
    let now = t(60);
    let batch = vec![
        failed(&id(1), token(1), 1, "lost", now),
        retried(&id(6), token(2), 1, "live", now, now),
        retried(&id(2), token(9), 1, "wrong token", now, now),
        retried(&id(7), token(1), 1, "never claimed", now, now),
        retried(&id(4), token(1), 1, "completed", now, now),
        retried(&id(5), token(1), 1, "cancelled", now, now),
        retried(&id(99), token(1), 1, "unknown", now, now),
        retried(&id(3), token(1), 1, "lost", now + secs(10), now),
    ];
    assert_eq!(
        rescue(&store, &batch).await,
        vec![true, false, false, false, false, false, false, true]
    );
    assert_eq!(stored(&*store.jobs, &id(1)).await.status, JobStatus::Error);
    assert_eq!(stored(&*store.jobs, &id(3)).await.status, JobStatus::Queued);
    assert_eq!(
        stored(&*store.jobs, &id(2)).await.status,
        JobStatus::Processing
    );
    assert_eq!(stored(&*store.jobs, &id(6)).await, live);
    assert_eq!(stored(&*store.jobs, &id(7)).await.status, JobStatus::Queued);
    assert_eq!(
        stored(&*store.jobs, &id(4)).await.status,
        JobStatus::Completed
    );
    assert_eq!(
        stored(&*store.jobs, &id(5)).await.status,
        JobStatus::Cancelled
    );
    for n in [2, 4, 5, 6, 7] {
        assert!(records(&*store.jobs, &id(n)).await.is_empty(), "job {n}");
    }
    assert_eq!(store.jobs.get_job(&id(99)).await.unwrap(), None);
}

/// R8: an empty batch is answered with no entries.
pub async fn r8_an_empty_batch_answers_nothing(store: TestStore) {
    assert_eq!(rescue(&store, &[]).await, Vec::<bool>::new());
}

/// R8, R9: four recoverers on two handles rescuing the same 20 expired attempts at once
/// apply each rescue exactly once, with one record per lost attempt.
pub async fn r9_concurrent_rescues_through_two_handles_apply_once_per_attempt(store: TestStore) {
    let other = store.another_handle().await;
    insert(&*store.jobs, &jobs(20)).await;
    assert_eq!(claim(&*store.jobs, t(0), token(8), 20).await.len(), 20);
    let now = t(31);
    let batch: Vec<Outcome> = (1..=20)
        .map(|n| retried(&id(n), token(8), 1, "worker lost", now + secs(10), now))
        .collect();
    let tasks: Vec<_> = (0..4)
        .map(|i| {
            let jobs = if i % 2 == 0 {
                store.jobs.clone()
            } else {
                other.jobs.clone()
            };
            let mut batch = batch.clone();
            if i >= 2 {
                batch.reverse();
            }
            tokio::spawn(async move {
                let answers = jobs.rescue_jobs(&batch).await.unwrap();
                assert_eq!(answers.len(), batch.len());
                batch
                    .into_iter()
                    .zip(answers)
                    .map(|(o, applied)| (o.lease.id, applied))
                    .collect::<Vec<(JobId, bool)>>()
            })
        })
        .collect();
    let mut applied: HashMap<JobId, usize> = HashMap::new();
    for task in tasks {
        for (id, done) in tokio::time::timeout(PATIENCE, task).await.unwrap().unwrap() {
            *applied.entry(id).or_default() += usize::from(done);
        }
    }
    assert_eq!(applied.len(), 20);
    assert!(
        applied.values().all(|n| *n == 1),
        "each attempt rescued once: {applied:?}"
    );
    for n in 1..=20 {
        assert_eq!(records(&*store.jobs, &id(n)).await.len(), 1, "job {n}");
        assert_eq!(stored(&*store.jobs, &id(n)).await.status, JobStatus::Queued);
    }
}
