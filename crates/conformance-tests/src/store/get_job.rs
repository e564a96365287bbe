//! `JobStore::get_job` (R5): one job as stored, `None` for an unknown id.

use remote_core::{JobStatus, RemoveJobs};
use serde_json::json;

use super::{claim_one, completed, id, insert, jobs, stored, t};
use crate::calls::token;
use crate::support::TestStore;

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_store_get_job {
    ($make:expr) => {
        $crate::__area!($make; store::get_job {
            r5_an_unknown_id_is_none,
            r5_a_job_reads_back_as_stored_after_each_change,
        });
    };
}

/// R5: an id never stored reads as `None`, also when other jobs are stored.
pub async fn r5_an_unknown_id_is_none(store: TestStore) {
    assert_eq!(store.jobs.get_job(&id(1)).await.unwrap(), None);
    insert(&*store.jobs, &jobs(2)).await;
    assert_eq!(store.jobs.get_job(&id(3)).await.unwrap(), None);
}

/// R5: after insert, claim and completion the job reads back as each call left it; once
/// removed it reads as `None`.
pub async fn r5_a_job_reads_back_as_stored_after_each_change(store: TestStore) {
    let inserted = jobs(1);
    insert(&*store.jobs, &inserted).await;
    assert_eq!(stored(&*store.jobs, &id(1)).await, inserted[0]);
    let claimed = claim_one(&*store.jobs, t(1), token(1)).await;
    assert_eq!(stored(&*store.jobs, &id(1)).await, claimed);
    assert_eq!(
        store
            .jobs
            .record_outcomes(&[completed(&id(1), token(1), json!("out"), t(2))])
            .await
            .unwrap(),
        vec![true]
    );
    let done = stored(&*store.jobs, &id(1)).await;
    assert_eq!(done.status, JobStatus::Completed);
    assert_eq!(done.output, Some(json!("out")));
    store
        .jobs
        .remove_jobs(&RemoveJobs {
            names: remote_core::JobNames::All,
            statuses: &[JobStatus::Completed],
            finished_before: None,
            limit: None,
        })
        .await
        .unwrap();
    assert_eq!(store.jobs.get_job(&id(1)).await.unwrap(), None);
}
