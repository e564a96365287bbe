//! `JobStore::wakeups` (R11): a store that can tell idle workers of new jobs signals its
//! `Notify` when a job is inserted (capability `wakeups`); one that cannot says so by
//! answering `None`, and workers poll.

use std::time::Duration;

use tokio::sync::Notify;

use super::{insert, job, t};
use crate::support::TestStore;

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_wakeups {
    ($make:expr) => {
        $crate::__area!($make; store::wakeups {
            r11_an_inserted_job_signals_wakeups,
        });
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_no_wakeups {
    ($make:expr) => {
        $crate::__area!($make; store::wakeups {
            r11_a_store_without_the_capability_answers_none,
        });
    };
}

/// Inserts jobs through `through` until `notify` is signalled, each time waiting up to a
/// second; panics if it is not signalled within `crate::support::PATIENCE`.
pub(crate) async fn assert_signalled(notify: &Notify, through: &TestStore) {
    let deadline = tokio::time::Instant::now() + crate::support::PATIENCE;
    for n in 1.. {
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        insert(&*through.jobs, &[job(n, t(n as i64))]).await;
        if tokio::time::timeout(Duration::from_secs(1), notified)
            .await
            .is_ok()
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no wakeup after {n} inserted jobs"
        );
    }
}

/// R11: a job inserted through a handle signals that handle's wakeups.
pub async fn r11_an_inserted_job_signals_wakeups(store: TestStore) {
    let notify = store
        .jobs
        .wakeups()
        .expect("a store with the capability `wakeups` answers Some");
    let notified = notify.notified();
    tokio::pin!(notified);
    notified.as_mut().enable();
    insert(&*store.jobs, &[job(1, t(0))]).await;
    tokio::time::timeout(crate::support::PATIENCE, notified)
        .await
        .expect("the insert signalled wakeups");
}

/// R11: a store declared without `wakeups` answers `None`, so idle workers poll instead of
/// waiting for a signal that never comes.
pub async fn r11_a_store_without_the_capability_answers_none(store: TestStore) {
    assert!(
        store.jobs.wakeups().is_none(),
        "the store has wakeups: declare the capability `wakeups` to run its cases"
    );
}
