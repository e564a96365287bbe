//! `JobStore::wakeups` across handles (R11, capability `cross_process_wakeups`): a job
//! inserted through another handle on the same data, as another process would, signals this
//! handle's wakeups.

use super::wakeups::assert_signalled;
use crate::support::TestStore;

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_cross_process_wakeups {
    ($make:expr) => {
        $crate::__area!($make; store::cross_process_wakeups {
            r11_a_job_inserted_through_another_handle_signals_wakeups,
        });
    };
}

/// R11: jobs inserted through a second handle signal the first handle's wakeups.
pub async fn r11_a_job_inserted_through_another_handle_signals_wakeups(store: TestStore) {
    let notify = store
        .jobs
        .wakeups()
        .expect("a store with the capability `wakeups` answers Some");
    let other = store.another_handle().await;
    assert_signalled(&notify, &other).await;
}
