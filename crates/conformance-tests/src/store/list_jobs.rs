//! `JobStore::list_jobs` (R5): jobs passing the status and name filters, sorted by
//! `(queued_at, id)`, newest first unless asked, then paged by offset and limit.

use remote_core::{Job, JobId, JobQuery, JobStatus};

use super::{id, ids, insert, named, t};
use crate::support::TestStore;

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_store_list_jobs {
    ($make:expr) => {
        $crate::__area!($make; store::list_jobs {
            r5_jobs_are_listed_newest_first_by_default,
            r5_jobs_are_listed_oldest_first_on_request,
            r5_listing_filters_by_status,
            r5_listing_filters_by_name,
            r5_listing_combines_status_and_name,
            r5_listing_pages_with_offset_and_limit,
            r5_huge_offsets_and_limits_and_limit_zero_are_handled,
            r5_an_empty_store_lists_nothing,
        });
    };
}

/// Six jobs: ids 1–6 queued at +1, +2, +2 (a tie), +3, +4, +5 s; odd ids named `echo`, even
/// ones `other`; statuses queued, processing, completed, cancelled, error, queued.
async fn six(store: &TestStore) -> Vec<Job> {
    let statuses = [
        JobStatus::Queued,
        JobStatus::Processing,
        JobStatus::Completed,
        JobStatus::Cancelled,
        JobStatus::Error,
        JobStatus::Queued,
    ];
    let at = [1, 2, 2, 3, 4, 5];
    let batch: Vec<Job> = (1..=6u64)
        .map(|n| {
            let name = if n % 2 == 1 { "echo" } else { "other" };
            Job {
                status: statuses[n as usize - 1],
                ..named(name, n, t(at[n as usize - 1]))
            }
        })
        .collect();
    // Inserted in an order that is neither listing order.
    for n in [4, 1, 6, 3, 2, 5] {
        insert(&*store.jobs, &batch[n - 1..n]).await;
    }
    batch
}

async fn list(store: &TestStore, query: JobQuery) -> Vec<JobId> {
    ids(&store.jobs.list_jobs(&query).await.unwrap())
}

fn n(ns: &[u64]) -> Vec<JobId> {
    ns.iter().map(|&k| id(k)).collect()
}

/// R5: by default jobs come newest `queued_at` first, ties larger id first, each as stored.
pub async fn r5_jobs_are_listed_newest_first_by_default(store: TestStore) {
    let batch = six(&store).await;
    let listed = store.jobs.list_jobs(&JobQuery::default()).await.unwrap();
    let expected: Vec<Job> = batch.into_iter().rev().collect();
    assert_eq!(listed, expected);
}

/// R5: with `oldest_first`, jobs come oldest `queued_at` first, ties smaller id first.
pub async fn r5_jobs_are_listed_oldest_first_on_request(store: TestStore) {
    six(&store).await;
    let query = JobQuery {
        oldest_first: true,
        ..JobQuery::default()
    };
    assert_eq!(list(&store, query).await, n(&[1, 2, 3, 4, 5, 6]));
}

/// R5: only jobs with one of the given statuses are listed; every status given lists all.
pub async fn r5_listing_filters_by_status(store: TestStore) {
    six(&store).await;
    let with = |statuses: &[JobStatus]| JobQuery {
        statuses: statuses.to_vec(),
        ..JobQuery::default()
    };
    assert_eq!(list(&store, with(&[JobStatus::Queued])).await, n(&[6, 1]));
    assert_eq!(
        list(&store, with(&[JobStatus::Error, JobStatus::Completed])).await,
        n(&[5, 3])
    );
    assert_eq!(
        list(&store, with(&JobStatus::ALL)).await,
        n(&[6, 5, 4, 3, 2, 1])
    );
}

/// R5: only jobs of the given name are listed; an unknown name lists none.
pub async fn r5_listing_filters_by_name(store: TestStore) {
    six(&store).await;
    let named = |name: &str| JobQuery {
        job_name: Some(name.to_string()),
        ..JobQuery::default()
    };
    assert_eq!(list(&store, named("other")).await, n(&[6, 4, 2]));
    assert_eq!(list(&store, named("echo")).await, n(&[5, 3, 1]));
    assert!(list(&store, named("nope")).await.is_empty());
}

/// R5: status and name filters hold together.
pub async fn r5_listing_combines_status_and_name(store: TestStore) {
    six(&store).await;
    let query = JobQuery {
        statuses: vec![JobStatus::Queued],
        job_name: Some("echo".into()),
        ..JobQuery::default()
    };
    assert_eq!(list(&store, query).await, n(&[1]));
    let query = JobQuery {
        statuses: vec![
            JobStatus::Processing,
            JobStatus::Cancelled,
            JobStatus::Error,
        ],
        job_name: Some("other".into()),
        oldest_first: true,
        ..JobQuery::default()
    };
    assert_eq!(list(&store, query).await, n(&[2, 4]));
}

/// R5: offset and limit page through the sorted, filtered list.
pub async fn r5_listing_pages_with_offset_and_limit(store: TestStore) {
    six(&store).await;
    let page = |offset: u64, limit: u64, oldest_first: bool| JobQuery {
        offset,
        limit: Some(limit),
        oldest_first,
        ..JobQuery::default()
    };
    assert_eq!(list(&store, page(0, 2, false)).await, n(&[6, 5]));
    assert_eq!(list(&store, page(2, 2, false)).await, n(&[4, 3]));
    assert_eq!(list(&store, page(4, 2, false)).await, n(&[2, 1]));
    assert!(list(&store, page(6, 2, false)).await.is_empty());
    assert_eq!(list(&store, page(1, 3, true)).await, n(&[2, 3, 4]));
    let filtered = JobQuery {
        job_name: Some("echo".into()),
        offset: 1,
        limit: Some(1),
        ..JobQuery::default()
    };
    assert_eq!(list(&store, filtered).await, n(&[3]));
    let offset_only = JobQuery {
        offset: 4,
        ..JobQuery::default()
    };
    assert_eq!(list(&store, offset_only).await, n(&[2, 1]));
}

/// R5, R22: an offset or limit up to `u64::MAX` is handled, and a limit of 0 lists nothing.
pub async fn r5_huge_offsets_and_limits_and_limit_zero_are_handled(store: TestStore) {
    six(&store).await;
    let page = |offset: u64, limit: Option<u64>| JobQuery {
        offset,
        limit,
        ..JobQuery::default()
    };
    assert!(list(&store, page(0, Some(0))).await.is_empty());
    assert_eq!(list(&store, page(0, Some(u64::MAX))).await.len(), 6);
    assert!(list(&store, page(u64::MAX, None)).await.is_empty());
    assert!(list(&store, page(u64::MAX, Some(u64::MAX)))
        .await
        .is_empty());
    assert_eq!(list(&store, page(5, Some(u64::MAX))).await, n(&[1]));
}

/// R5: an empty store lists nothing, whatever the query.
pub async fn r5_an_empty_store_lists_nothing(store: TestStore) {
    assert!(list(&store, JobQuery::default()).await.is_empty());
    let query = JobQuery {
        statuses: vec![JobStatus::Queued],
        job_name: Some("echo".into()),
        oldest_first: true,
        offset: 0,
        limit: Some(10),
    };
    assert!(list(&store, query).await.is_empty());
}
