//! `JobStore::retry_jobs` (R30): finished jobs of the given statuses go back to the queue with
//! a fresh attempt budget, keeping their error records and their place in line.

use remote_core::{Job, JobId, JobNames, JobStatus, RetryJobs, StatusCounts, StatusSet};

use super::{all_jobs, claim_one, count, id, insert, job, named, records, stored, t};
use crate::calls::token;
use crate::support::TestStore;

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_store_retry_jobs {
    ($make:expr) => {
        $crate::__area!($make; store::retry_jobs {
            r30_error_and_cancelled_jobs_are_queued_again_with_a_fresh_budget,
            r30_other_statuses_are_left_unchanged,
            r30_ids_and_names_narrow_the_retry,
            r30_error_records_are_kept,
            r30_a_job_whose_key_another_holds_is_not_retried,
        });
    };
}

const RETRYABLE: [JobStatus; 2] = [JobStatus::Error, JobStatus::Cancelled];

/// A job `n` of `name` that ended in `status` after `attempt` attempts.
fn dead(n: u64, name: &str, status: JobStatus, attempt: u32) -> Job {
    Job {
        status,
        attempt,
        snoozes: 2,
        not_before: Some(t(5)),
        picked_at: Some(t(6)),
        completed_at: Some(t(7)),
        output: None,
        ..named(name, n, t(0) + super::ms(n as i64))
    }
}

async fn retry(store: &TestStore, retry: RetryJobs<'_>) -> StatusCounts {
    store.jobs.retry_jobs(&retry).await.unwrap()
}

fn all(now: chrono::DateTime<chrono::Utc>) -> RetryJobs<'static> {
    RetryJobs {
        ids: None,
        statuses: &RETRYABLE,
        names: JobNames::All,
        now,
    }
}

/// R30: `error` and `cancelled` jobs become `queued` with `attempt` 0, no snoozes, no
/// not-before, picked or completed time, `queued_at` kept; the counts are per status before.
pub async fn r30_error_and_cancelled_jobs_are_queued_again_with_a_fresh_budget(store: TestStore) {
    insert(
        &*store.jobs,
        &[
            dead(1, "echo", JobStatus::Error, 3),
            dead(2, "echo", JobStatus::Cancelled, 1),
        ],
    )
    .await;
    let counts = retry(&store, all(t(10))).await;
    assert_eq!(count(&counts, JobStatus::Error), 1);
    assert_eq!(count(&counts, JobStatus::Cancelled), 1);
    for n in [1, 2] {
        let job = stored(&*store.jobs, &id(n)).await;
        assert_eq!(job.status, JobStatus::Queued);
        assert_eq!((job.attempt, job.snoozes), (0, 0));
        assert_eq!(job.max_attempts, 3);
        assert_eq!(
            (job.not_before, job.picked_at, job.completed_at),
            (None, None, None)
        );
        assert_eq!(job.queued_at, t(0) + super::ms(n as i64));
    }
    let first = claim_one(&*store.jobs, t(10), token(1)).await;
    assert_eq!((first.id, first.attempt), (id(1), 1));
}

/// R30: jobs in statuses other than the given ones — queued, processing, completed — are not
/// retried.
pub async fn r30_other_statuses_are_left_unchanged(store: TestStore) {
    let done = Job {
        status: JobStatus::Completed,
        completed_at: Some(t(3)),
        ..job(2, t(0))
    };
    insert(&*store.jobs, &[job(1, t(0)), done.clone()]).await;
    let running = claim_one(&*store.jobs, t(1), token(1)).await;
    let counts = retry(&store, all(t(10))).await;
    assert_eq!(counts.values().sum::<u64>(), 0, "{counts:?}");
    assert_eq!(stored(&*store.jobs, &running.id).await, running);
    assert_eq!(stored(&*store.jobs, &id(2)).await, done);
}

/// R30: only the given ids and names are retried.
pub async fn r30_ids_and_names_narrow_the_retry(store: TestStore) {
    insert(
        &*store.jobs,
        &[
            dead(1, "a", JobStatus::Error, 1),
            dead(2, "b", JobStatus::Error, 1),
            dead(3, "a", JobStatus::Error, 1),
        ],
    )
    .await;
    let one = [id(3)];
    let counts = retry(
        &store,
        RetryJobs {
            ids: Some(&one),
            ..all(t(10))
        },
    )
    .await;
    assert_eq!(count(&counts, JobStatus::Error), 1);
    let b = ["b".to_string()];
    let counts = retry(
        &store,
        RetryJobs {
            names: JobNames::Only(&b),
            ..all(t(10))
        },
    )
    .await;
    assert_eq!(count(&counts, JobStatus::Error), 1);
    let statuses: Vec<(JobId, JobStatus)> = all_jobs(&*store.jobs)
        .await
        .into_iter()
        .map(|j| (j.id, j.status))
        .collect();
    assert_eq!(
        statuses,
        vec![
            (id(1), JobStatus::Error),
            (id(2), JobStatus::Queued),
            (id(3), JobStatus::Queued)
        ]
    );
}

/// R30: a retried job keeps its error records; later failures add to them.
pub async fn r30_error_records_are_kept(store: TestStore) {
    insert(&*store.jobs, &[job(1, t(0))]).await;
    let claimed = claim_one(&*store.jobs, t(1), token(1)).await;
    let failed = super::failed(&claimed.id, token(1), 1, "boom", t(2));
    assert_eq!(
        store.jobs.record_outcomes(&[failed]).await.unwrap(),
        vec![true]
    );
    let before = records(&*store.jobs, &id(1)).await;
    assert_eq!(before.len(), 1);
    retry(&store, all(t(3))).await;
    assert_eq!(records(&*store.jobs, &id(1)).await, before);
}

/// R27, R30: a dead job is not retried while another job holds its unique key; it is once the
/// key is free.
pub async fn r30_a_job_whose_key_another_holds_is_not_retried(store: TestStore) {
    let keyed = |job: Job| Job {
        unique_key: Some("k".into()),
        unique_across: StatusSet::LIVE,
        ..job
    };
    insert(
        &*store.jobs,
        &[
            keyed(dead(1, "echo", JobStatus::Error, 3)),
            keyed(job(2, t(1))),
        ],
    )
    .await;
    let counts = retry(&store, all(t(10))).await;
    assert_eq!(counts.values().sum::<u64>(), 0);
    assert_eq!(stored(&*store.jobs, &id(1)).await.status, JobStatus::Error);
    let cancel = [JobStatus::Queued];
    let was = store
        .jobs
        .cancel_job(&remote_core::CancelJob {
            id: &id(2),
            cancellable: &cancel,
            now: t(11),
        })
        .await
        .unwrap();
    assert_eq!(was, Some(JobStatus::Queued));
    let counts = retry(&store, all(t(12))).await;
    assert_eq!(count(&counts, JobStatus::Error), 1);
    assert_eq!(stored(&*store.jobs, &id(1)).await.status, JobStatus::Queued);
}
