//! `JobStore::count_jobs` (R5): the number of jobs per status; statuses without jobs may be
//! absent.

use remote_core::{Job, JobStatus};

use super::{count, job, t};
use crate::support::TestStore;

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_store_count_jobs {
    ($make:expr) => {
        $crate::__area!($make; store::count_jobs {
            r5_jobs_are_counted_per_status,
            r5_an_empty_store_counts_nothing,
        });
    };
}

/// R5: each status counts its jobs; a status without jobs counts zero (or is absent).
pub async fn r5_jobs_are_counted_per_status(store: TestStore) {
    let statuses = [
        JobStatus::Queued,
        JobStatus::Completed,
        JobStatus::Queued,
        JobStatus::Processing,
        JobStatus::Completed,
        JobStatus::Error,
        JobStatus::Completed,
    ];
    let batch: Vec<Job> = statuses
        .iter()
        .enumerate()
        .map(|(i, status)| Job {
            status: *status,
            ..job(i as u64 + 1, t(i as i64))
        })
        .collect();
    super::insert(&*store.jobs, &batch).await;
    let counts = store.jobs.count_jobs().await.unwrap();
    assert_eq!(count(&counts, JobStatus::Queued), 2);
    assert_eq!(count(&counts, JobStatus::Processing), 1);
    assert_eq!(count(&counts, JobStatus::Completed), 3);
    assert_eq!(count(&counts, JobStatus::Cancelled), 0);
    assert_eq!(count(&counts, JobStatus::Error), 1);
    assert_eq!(counts.values().sum::<u64>(), 7, "{counts:?}");
}

/// R5: an empty store counts no job in any status.
pub async fn r5_an_empty_store_counts_nothing(store: TestStore) {
    let counts = store.jobs.count_jobs().await.unwrap();
    for status in JobStatus::ALL {
        assert_eq!(count(&counts, status), 0, "{status}");
    }
}
