//! `JobStore::remove_jobs` (R6): jobs of the given statuses (finished before a time, at most a
//! limit, oldest `completed_at` first) are deleted with their error records and counted.

use chrono::{DateTime, Utc};
use remote_core::{Job, JobStatus, RemoveJobs, StatusCounts};

use super::{all_jobs, claim_one, count, failed, id, ids, insert, job, records, retried, t};
use crate::calls::token;
use crate::support::TestStore;

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_store_remove_jobs {
    ($make:expr) => {
        $crate::__area!($make; store::remove_jobs {
            r6_removes_the_given_statuses_and_counts_them,
            r6_finished_before_takes_only_jobs_that_ended_earlier,
            r6_a_limit_removes_the_oldest_completed_at_first,
            r6_error_records_go_with_their_jobs,
            r6_live_jobs_are_kept,
            r6_nothing_to_remove_counts_nothing,
            r6_a_limit_of_zero_removes_nothing,
            r33_removal_by_names_only_and_except,
            r33_concurrent_limited_removals_remove_each_job_once,
            r33_reclaiming_space_after_removals_keeps_every_other_job_and_record,
        });
    };
}

/// A job `n` in `status`, ended at `ended` (final statuses) or live.
fn ended(n: u64, status: JobStatus, at: Option<DateTime<Utc>>) -> Job {
    Job {
        status,
        completed_at: at,
        ..job(n, t(0))
    }
}

async fn remove(
    store: &TestStore,
    statuses: &[JobStatus],
    finished_before: Option<DateTime<Utc>>,
    limit: Option<usize>,
) -> StatusCounts {
    store
        .jobs
        .remove_jobs(&RemoveJobs {
            names: remote_core::JobNames::All,
            statuses,
            finished_before,
            limit,
        })
        .await
        .unwrap()
}

/// Checks `counts` against `(status, n)` pairs, every other status counting 0.
fn assert_counts(counts: &StatusCounts, expected: &[(JobStatus, u64)]) {
    for status in JobStatus::ALL {
        let want = expected
            .iter()
            .find(|(s, _)| *s == status)
            .map_or(0, |(_, n)| *n);
        assert_eq!(count(counts, status), want, "{status} in {counts:?}");
    }
}

/// R6: only jobs of the given statuses are removed, and each status asked counts its removed
/// jobs.
pub async fn r6_removes_the_given_statuses_and_counts_them(store: TestStore) {
    insert(
        &*store.jobs,
        &[
            ended(1, JobStatus::Completed, Some(t(10))),
            ended(2, JobStatus::Completed, Some(t(20))),
            ended(3, JobStatus::Error, Some(t(15))),
            ended(4, JobStatus::Cancelled, Some(t(5))),
            ended(5, JobStatus::Queued, None),
            ended(6, JobStatus::Processing, None),
        ],
    )
    .await;
    let counts = remove(
        &store,
        &[JobStatus::Completed, JobStatus::Error],
        None,
        None,
    )
    .await;
    assert_counts(&counts, &[(JobStatus::Completed, 2), (JobStatus::Error, 1)]);
    assert_eq!(
        ids(&all_jobs(&*store.jobs).await),
        vec![id(4), id(5), id(6)]
    );
    let counts = remove(&store, &JobStatus::REMOVABLE, None, None).await;
    assert_counts(&counts, &[(JobStatus::Cancelled, 1)]);
    assert_eq!(ids(&all_jobs(&*store.jobs).await), vec![id(5), id(6)]);
}

/// R6: `finished_before` removes only jobs that ended strictly before it.
pub async fn r6_finished_before_takes_only_jobs_that_ended_earlier(store: TestStore) {
    insert(
        &*store.jobs,
        &[
            ended(1, JobStatus::Completed, Some(t(10))),
            ended(2, JobStatus::Completed, Some(t(20))),
            ended(3, JobStatus::Error, Some(t(30))),
        ],
    )
    .await;
    let counts = remove(&store, &JobStatus::REMOVABLE, Some(t(20)), None).await;
    assert_counts(&counts, &[(JobStatus::Completed, 1)]);
    assert_eq!(ids(&all_jobs(&*store.jobs).await), vec![id(2), id(3)]);
    let counts = remove(&store, &JobStatus::REMOVABLE, Some(t(31)), None).await;
    assert_counts(&counts, &[(JobStatus::Completed, 1), (JobStatus::Error, 1)]);
    assert!(all_jobs(&*store.jobs).await.is_empty());
}

/// R6: with a limit, the jobs that ended first are removed first, across statuses.
pub async fn r6_a_limit_removes_the_oldest_completed_at_first(store: TestStore) {
    insert(
        &*store.jobs,
        &[
            ended(1, JobStatus::Completed, Some(t(30))),
            ended(2, JobStatus::Completed, Some(t(10))),
            ended(3, JobStatus::Completed, Some(t(20))),
            ended(4, JobStatus::Error, Some(t(15))),
        ],
    )
    .await;
    let statuses = [JobStatus::Completed, JobStatus::Error];
    let counts = remove(&store, &statuses, None, Some(2)).await;
    assert_counts(&counts, &[(JobStatus::Completed, 1), (JobStatus::Error, 1)]);
    assert_eq!(ids(&all_jobs(&*store.jobs).await), vec![id(1), id(3)]);
    let counts = remove(&store, &statuses, None, Some(1)).await;
    assert_counts(&counts, &[(JobStatus::Completed, 1)]);
    assert_eq!(ids(&all_jobs(&*store.jobs).await), vec![id(1)]);
    let counts = remove(&store, &statuses, None, Some(10)).await;
    assert_counts(&counts, &[(JobStatus::Completed, 1)]);
    assert!(all_jobs(&*store.jobs).await.is_empty());
}

/// Jobs 1 and 2 are claimed; job 1 fails for good and job 2 is retried, each leaving an
/// error record; then the error jobs are removed, which takes job 1 alone.
async fn remove_a_failed_job_beside_a_retried_one(store: &TestStore) {
    insert(&*store.jobs, &[job(1, t(0)), job(2, t(1))]).await;
    claim_one(&*store.jobs, t(2), token(1)).await;
    claim_one(&*store.jobs, t(2), token(2)).await;
    let outcomes = [
        failed(&id(1), token(1), 1, "for good", t(3)),
        retried(&id(2), token(2), 1, "once more", t(13), t(3)),
    ];
    assert_eq!(
        store.jobs.record_outcomes(&outcomes).await.unwrap(),
        vec![true, true]
    );
    let counts = remove(store, &[JobStatus::Error], None, None).await;
    assert_counts(&counts, &[(JobStatus::Error, 1)]);
}

/// R6: a removed job's records are gone with it (a new job under its id has none), while
/// the records of jobs kept stay.
pub async fn r6_error_records_go_with_their_jobs(store: TestStore) {
    remove_a_failed_job_beside_a_retried_one(&store).await;
    assert_eq!(store.jobs.job_errors(&id(1)).await.unwrap(), None);
    assert_eq!(records(&*store.jobs, &id(2)).await.len(), 1);
    insert(&*store.jobs, &[job(1, t(5))]).await;
    assert_eq!(
        store.jobs.job_errors(&id(1)).await.unwrap(),
        Some(vec![]),
        "the removed job's records went with it"
    );
}

/// R33: `reclaim_space` after removals succeeds and changes nothing a caller can read: the jobs
/// left and their error records read back as before, and a later removal still counts right.
pub async fn r33_reclaiming_space_after_removals_keeps_every_other_job_and_record(
    store: TestStore,
) {
    remove_a_failed_job_beside_a_retried_one(&store).await;
    insert(&*store.jobs, &[job(3, t(2))]).await;
    let left = all_jobs(&*store.jobs).await;
    let kept_records = records(&*store.jobs, &id(2)).await;
    store.jobs.reclaim_space().await.unwrap();
    assert_eq!(all_jobs(&*store.jobs).await, left);
    assert_eq!(records(&*store.jobs, &id(2)).await, kept_records);
    assert_eq!(store.jobs.job_errors(&id(1)).await.unwrap(), None);
    store.jobs.reclaim_space().await.unwrap();
    let counts = remove(&store, &[JobStatus::Completed], None, None).await;
    assert_counts(&counts, &[]);
    assert_eq!(all_jobs(&*store.jobs).await, left);
}

/// R6: queued and processing jobs are never among the removed, whatever the time bound.
pub async fn r6_live_jobs_are_kept(store: TestStore) {
    let live = [
        ended(1, JobStatus::Queued, None),
        ended(2, JobStatus::Processing, None),
    ];
    insert(&*store.jobs, &live).await;
    let counts = remove(&store, &JobStatus::REMOVABLE, Some(t(1_000_000)), None).await;
    assert_counts(&counts, &[]);
    assert_eq!(all_jobs(&*store.jobs).await, live);
}

/// R6: when nothing matches, nothing is removed and every status counts 0.
pub async fn r6_nothing_to_remove_counts_nothing(store: TestStore) {
    assert_counts(
        &remove(&store, &JobStatus::REMOVABLE, None, None).await,
        &[],
    );
    insert(&*store.jobs, &[ended(1, JobStatus::Completed, Some(t(10)))]).await;
    assert_counts(&remove(&store, &[JobStatus::Error], None, None).await, &[]);
    assert_counts(
        &remove(&store, &[JobStatus::Completed], Some(t(10)), None).await,
        &[],
    );
    assert_eq!(all_jobs(&*store.jobs).await.len(), 1);
}

/// R6: a limit of 0 removes nothing.
pub async fn r6_a_limit_of_zero_removes_nothing(store: TestStore) {
    insert(&*store.jobs, &[ended(1, JobStatus::Completed, Some(t(10)))]).await;
    assert_counts(
        &remove(&store, &JobStatus::REMOVABLE, None, Some(0)).await,
        &[],
    );
    assert_eq!(all_jobs(&*store.jobs).await.len(), 1);
}

/// R33: `names` narrows a removal to some names, or to every name but some.
pub async fn r33_removal_by_names_only_and_except(store: TestStore) {
    let done = |n: u64, name: &str| Job {
        status: JobStatus::Completed,
        completed_at: Some(t(n as i64)),
        ..super::named(name, n, t(0))
    };
    insert(
        &*store.jobs,
        &[done(1, "a"), done(2, "b"), done(3, "c"), done(4, "a")],
    )
    .await;
    let only = ["a".to_string()];
    let removed = store
        .jobs
        .remove_jobs(&RemoveJobs {
            statuses: &[JobStatus::Completed],
            names: remote_core::JobNames::Only(&only),
            finished_before: None,
            limit: None,
        })
        .await
        .unwrap();
    assert_counts(&removed, &[(JobStatus::Completed, 2)]);
    let except = ["b".to_string()];
    let removed = store
        .jobs
        .remove_jobs(&RemoveJobs {
            statuses: &[JobStatus::Completed],
            names: remote_core::JobNames::Except(&except),
            finished_before: None,
            limit: None,
        })
        .await
        .unwrap();
    assert_counts(&removed, &[(JobStatus::Completed, 1)]);
    assert_eq!(ids(&all_jobs(&*store.jobs).await), vec![id(2)]);
}

/// R33: limited removals racing on two handles remove every job once: their counts add up
/// to the jobs there were.
pub async fn r33_concurrent_limited_removals_remove_each_job_once(store: TestStore) {
    let other = store.another_handle().await;
    let finished: Vec<Job> = (1..=300)
        .map(|n| ended(n, JobStatus::Error, Some(t(n as i64))))
        .collect();
    insert(&*store.jobs, &finished).await;
    let tasks: Vec<_> = (0..4)
        .map(|i| {
            let jobs = if i % 2 == 0 {
                store.jobs.clone()
            } else {
                other.jobs.clone()
            };
            tokio::spawn(async move {
                let mut total = 0;
                for _ in 0..100 {
                    let counts = jobs
                        .remove_jobs(&RemoveJobs {
                            statuses: &[JobStatus::Error],
                            names: remote_core::JobNames::All,
                            finished_before: Some(t(1_000)),
                            limit: Some(25),
                        })
                        .await
                        .unwrap();
                    let n: u64 = counts.values().sum();
                    total += n;
                    if n == 0 {
                        break;
                    }
                }
                total
            })
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    assert_eq!(total, 300);
    assert!(all_jobs(&*store.jobs).await.is_empty());
}
