//! Opening a store (R21): a handle opened on data in use sees it whole, and opening handles
//! again or at once (migrations, indexes) is safe; for every store, with the factory's second
//! handle.

use std::time::Duration;

use remote_core::{JobStatus, SchedulerItem};
use serde_json::json;

use super::{
    all_jobs, claim, claim_one, count, id, ids, insert, insert_items, item, item_id, jobs, records,
    retried, stored_item, t,
};
use crate::calls::token;
use crate::factory::Handles;
use crate::support::TestStore;

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_store_open {
    ($make:expr) => {
        $crate::__area!($make; store::open {
            r21_a_second_handle_sees_what_the_first_wrote_and_back,
            r21_handles_opened_at_once_on_fresh_data_share_it,
            r21_opening_again_while_the_data_is_in_use_keeps_it,
        });
    };
}

/// R21: a handle opened after another wrote jobs, records and items reads them all as
/// written, and what it writes the first handle reads.
pub async fn r21_a_second_handle_sees_what_the_first_wrote_and_back(store: TestStore) {
    insert(&*store.jobs, &jobs(2)).await;
    claim_one(&*store.jobs, t(1), token(1)).await;
    let failure = retried(&id(1), token(1), 1, "first failure", t(12), t(2));
    assert_eq!(
        store.jobs.record_outcomes(&[failure]).await.unwrap(),
        vec![true]
    );
    insert_items(&*store.items, &[item(1, Some(t(60)))]).await;

    let other = store.another_handle().await;
    assert_eq!(all_jobs(&*other.jobs).await, all_jobs(&*store.jobs).await);
    assert_eq!(
        records(&*other.jobs, &id(1)).await,
        records(&*store.jobs, &id(1)).await
    );
    assert_eq!(
        other.items.list_items().await.unwrap(),
        store.items.list_items().await.unwrap()
    );

    insert(&*other.jobs, &[super::job(3, t(3))]).await;
    let changed = SchedulerItem {
        active: false,
        ..item(1, Some(t(60)))
    };
    assert!(other.items.update_item(&changed).await.unwrap());
    assert_eq!(
        ids(&all_jobs(&*store.jobs).await),
        vec![id(1), id(2), id(3)]
    );
    assert_eq!(stored_item(&*store.items, &item_id(1)).await, changed);
}

/// R21: two handles opened at once on fresh data (both creating whatever a store creates at
/// open) both work and share the data.
pub async fn r21_handles_opened_at_once_on_fresh_data_share_it(handles: Handles) {
    let (a, b) = tokio::join!(handles.open(), handles.open());
    insert(&*a.jobs, &jobs(1)).await;
    insert_items(&*b.items, &[item(1, Some(t(5)))]).await;
    assert_eq!(ids(&all_jobs(&*b.jobs).await), vec![id(1)]);
    assert_eq!(a.items.list_items().await.unwrap().len(), 1);
    assert_eq!(claim_one(&*b.jobs, t(1), token(1)).await.id, id(1));
    assert_eq!(
        count(&a.jobs.count_jobs().await.unwrap(), JobStatus::Processing),
        1
    );
}

/// R21: opening two more handles at once on data in use (running whatever a store runs at
/// open a second and third time) loses nothing, changes nothing, and every handle keeps
/// working in pull order.
pub async fn r21_opening_again_while_the_data_is_in_use_keeps_it(store: TestStore) {
    insert(&*store.jobs, &jobs(100)).await;
    assert_eq!(claim(&*store.jobs, t(1), token(1), 10).await.len(), 10);
    insert_items(
        &*store.items,
        &[SchedulerItem {
            input: json!({"$where": "a.b"}),
            ..item(1, Some(t(60)))
        }
        .with_lock_duration(Duration::from_millis(1_500))],
    )
    .await;
    let before = all_jobs(&*store.jobs).await;
    let items = store.items.list_items().await.unwrap();
    let handles = store.handles();
    let claiming = {
        let jobs = store.jobs.clone();
        tokio::spawn(async move { claim(&*jobs, t(2), token(2), 5).await })
    };
    let (b, c) = tokio::join!(handles.open(), handles.open());
    let first_more = claiming.await.unwrap();
    assert_eq!(ids(&first_more), (11..=15).map(id).collect::<Vec<_>>());
    for handle in [&store, &b, &c] {
        let now = all_jobs(&*handle.jobs).await;
        assert_eq!(now.len(), 100);
        assert_eq!(now[..10], before[..10], "jobs claimed before are unchanged");
        assert_eq!(
            now[15..],
            before[15..],
            "jobs not claimed since are unchanged"
        );
        assert_eq!(handle.items.list_items().await.unwrap(), items);
    }
    assert_eq!(claim_one(&*b.jobs, t(3), token(3)).await.id, id(16));
    assert_eq!(claim_one(&*c.jobs, t(3), token(4)).await.id, id(17));
    assert_eq!(claim_one(&*store.jobs, t(3), token(5)).await.id, id(18));
}
