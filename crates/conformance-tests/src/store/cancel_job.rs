//! `JobStore::cancel_job` (R4): a job whose status is one of the caller's cancellable
//! statuses becomes `cancelled`, lease cleared, `completed_at = now`; the answer is the status
//! before the call.

use remote_core::{CancelJob, Job, JobStatus};
use serde_json::json;

use super::{claim, claim_one, completed, id, insert, job, jobs, records, retried, stored, t};
use crate::calls::{cancel, renew, token};
use crate::support::TestStore;

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_store_cancel_job {
    ($make:expr) => {
        $crate::__area!($make; store::cancel_job {
            r4_a_queued_job_is_cancelled_and_its_status_before_answered,
            r4_a_processing_job_is_cancelled_and_its_lease_cleared,
            r4_a_status_outside_the_cancellable_ones_is_left_unchanged,
            r4_the_caller_says_which_statuses_are_cancellable,
            r4_an_unknown_id_is_none,
            r4_cancel_fences_out_the_attempts_token,
        });
    };
}

/// R4: a queued job is cancelled: `cancelled`, `completed_at = now`, nothing else changed;
/// the answer is `queued`.
pub async fn r4_a_queued_job_is_cancelled_and_its_status_before_answered(store: TestStore) {
    let inserted = jobs(1);
    insert(&*store.jobs, &inserted).await;
    assert_eq!(
        cancel(&*store.jobs, &id(1), t(5)).await.unwrap(),
        Some(JobStatus::Queued)
    );
    let expected = Job {
        status: JobStatus::Cancelled,
        completed_at: Some(t(5)),
        ..inserted[0].clone()
    };
    assert_eq!(stored(&*store.jobs, &id(1)).await, expected);
}

/// R4: a processing job is cancelled and its lease cleared; the answer is `processing`.
pub async fn r4_a_processing_job_is_cancelled_and_its_lease_cleared(store: TestStore) {
    insert(&*store.jobs, &jobs(1)).await;
    let claimed = claim_one(&*store.jobs, t(1), token(4)).await;
    assert_eq!(
        cancel(&*store.jobs, &id(1), t(5)).await.unwrap(),
        Some(JobStatus::Processing)
    );
    let expected = Job {
        status: JobStatus::Cancelled,
        completed_at: Some(t(5)),
        lease_until: None,
        lease_token: None,
        ..claimed
    };
    assert_eq!(stored(&*store.jobs, &id(1)).await, expected);
}

/// R4: completed, failed and cancelled jobs are left exactly as they are; the answer is their
/// status.
pub async fn r4_a_status_outside_the_cancellable_ones_is_left_unchanged(store: TestStore) {
    insert(&*store.jobs, &jobs(3)).await;
    assert_eq!(claim(&*store.jobs, t(1), token(1), 2).await.len(), 2);
    let outcomes = [
        completed(&id(1), token(1), json!("done"), t(2)),
        super::failed(&id(2), token(1), 1, "failed", t(2)),
    ];
    assert_eq!(
        store.jobs.record_outcomes(&outcomes).await.unwrap(),
        vec![true, true]
    );
    assert_eq!(
        cancel(&*store.jobs, &id(3), t(2)).await.unwrap(),
        Some(JobStatus::Queued)
    );
    for (n, status) in [
        (1, JobStatus::Completed),
        (2, JobStatus::Error),
        (3, JobStatus::Cancelled),
    ] {
        let before = stored(&*store.jobs, &id(n)).await;
        assert_eq!(
            cancel(&*store.jobs, &id(n), t(9)).await.unwrap(),
            Some(status)
        );
        assert_eq!(
            stored(&*store.jobs, &id(n)).await,
            before,
            "job {n} unchanged"
        );
    }
}

/// R4: the store cancels from the statuses the caller names, and from no other: with only
/// `processing` named a queued job is left queued; with none named nothing is cancelled.
pub async fn r4_the_caller_says_which_statuses_are_cancellable(store: TestStore) {
    insert(&*store.jobs, &jobs(2)).await;
    claim_one(&*store.jobs, t(1), token(1)).await;
    let cancel_from = |n: u64, cancellable: &'static [JobStatus]| {
        let jobs = store.jobs.clone();
        async move {
            jobs.cancel_job(&CancelJob {
                id: &id(n),
                cancellable,
                now: t(5),
            })
            .await
            .unwrap()
        }
    };
    let before: Vec<Job> = vec![
        stored(&*store.jobs, &id(1)).await,
        stored(&*store.jobs, &id(2)).await,
    ];
    assert_eq!(cancel_from(1, &[]).await, Some(JobStatus::Processing));
    assert_eq!(cancel_from(2, &[]).await, Some(JobStatus::Queued));
    assert_eq!(
        cancel_from(2, &[JobStatus::Processing]).await,
        Some(JobStatus::Queued)
    );
    assert_eq!(
        cancel_from(1, &[JobStatus::Queued]).await,
        Some(JobStatus::Processing)
    );
    assert_eq!(stored(&*store.jobs, &id(1)).await, before[0]);
    assert_eq!(stored(&*store.jobs, &id(2)).await, before[1]);
    assert_eq!(
        cancel_from(1, &[JobStatus::Processing]).await,
        Some(JobStatus::Processing)
    );
    assert_eq!(
        stored(&*store.jobs, &id(1)).await.status,
        JobStatus::Cancelled
    );
    assert_eq!(stored(&*store.jobs, &id(2)).await, before[1]);
}

/// R4: cancelling an unknown id answers `None` and stores nothing.
pub async fn r4_an_unknown_id_is_none(store: TestStore) {
    assert_eq!(cancel(&*store.jobs, &id(7), t(1)).await.unwrap(), None);
    assert_eq!(store.jobs.get_job(&id(7)).await.unwrap(), None);
    assert!(super::all_jobs(&*store.jobs).await.is_empty());
}

/// R4, R8: after a cancel the cancelled attempt's token no longer completes, fails or renews
/// it, no record is added, and the job is never claimed again; cancelling it again answers
/// `cancelled`.
pub async fn r4_cancel_fences_out_the_attempts_token(store: TestStore) {
    insert(&*store.jobs, &[job(1, t(0)), job(2, t(0))]).await;
    claim_one(&*store.jobs, t(1), token(42)).await;
    assert_eq!(
        cancel(&*store.jobs, &id(2), t(1)).await.unwrap(),
        Some(JobStatus::Queued)
    );
    assert_eq!(
        cancel(&*store.jobs, &id(1), t(1)).await.unwrap(),
        Some(JobStatus::Processing)
    );
    let cancelled = stored(&*store.jobs, &id(1)).await;
    let later = t(2);
    assert_eq!(
        store
            .jobs
            .record_outcomes(&[
                completed(&id(1), token(42), json!("late"), later),
                retried(&id(1), token(42), 1, "late failure", later, later),
            ])
            .await
            .unwrap(),
        vec![false, false]
    );
    assert!(
        !renew(&*store.jobs, &id(1), token(42), later + super::secs(30))
            .await
            .unwrap()
    );
    assert_eq!(stored(&*store.jobs, &id(1)).await, cancelled);
    assert!(records(&*store.jobs, &id(1)).await.is_empty());
    assert_eq!(
        cancel(&*store.jobs, &id(1), later).await.unwrap(),
        Some(JobStatus::Cancelled)
    );
    assert!(claim(&*store.jobs, later, token(43), 10).await.is_empty());
}
