//! `JobStore::job_errors` (R3, R5): a job's error records in the order they were added,
//! `None` for an unknown id.

use remote_core::ErrorRecord;

use super::{claim_one, id, insert, job, records, retried, secs, t};
use crate::calls::token;
use crate::support::TestStore;

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_store_job_errors {
    ($make:expr) => {
        $crate::__area!($make; store::job_errors {
            r5_an_unknown_id_is_none,
            r5_a_job_without_failures_has_no_records,
            r3_each_job_keeps_its_own_records_in_order,
        });
    };
}

/// R5: the records of an id never stored are `None`.
pub async fn r5_an_unknown_id_is_none(store: TestStore) {
    assert_eq!(store.jobs.job_errors(&id(1)).await.unwrap(), None);
}

/// R5: a stored job that never failed has an empty list of records.
pub async fn r5_a_job_without_failures_has_no_records(store: TestStore) {
    insert(&*store.jobs, &[job(1, t(0))]).await;
    assert_eq!(store.jobs.job_errors(&id(1)).await.unwrap(), Some(vec![]));
}

/// R3: two jobs failing in turn each keep their own records, in the order they were added.
pub async fn r3_each_job_keeps_its_own_records_in_order(store: TestStore) {
    insert(&*store.jobs, &[job(1, t(0)), job(2, t(0))]).await;
    let mut written: [Vec<ErrorRecord>; 2] = [Vec::new(), Vec::new()];
    for round in 1..=3u32 {
        for n in [1u64, 2] {
            let now = t(i64::from(round) * 10 + n as i64);
            let token = token(i64::from(round) * 10 + n as i64);
            let claimed = claim_one(&*store.jobs, now, token).await;
            assert_eq!(claimed.id, id(n));
            let message = format!("job {n} round {round}");
            let outcome = retried(&id(n), token, round, &message, now + secs(4), now);
            written[n as usize - 1].push(super::record_of(&outcome).unwrap());
            assert_eq!(
                store.jobs.record_outcomes(&[outcome]).await.unwrap(),
                vec![true]
            );
        }
    }
    assert_eq!(records(&*store.jobs, &id(1)).await, written[0]);
    assert_eq!(records(&*store.jobs, &id(2)).await, written[1]);
}
