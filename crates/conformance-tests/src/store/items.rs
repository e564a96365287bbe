//! `SchedulerStore::insert_item`, `get_item`, `list_items`, `update_item`, `delete_item`
//! (R14): items are stored, read back, replaced and deleted exactly as given, their misfire
//! policy included (R34).

use std::time::Duration;

use remote_core::{CronLists, Misfire, SchedulerItem};
use serde_json::json;

use super::{claim_items, insert_items, item, item_id, item_ids, ms, stored_item};
use crate::support::{t0, TestStore};

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_store_items {
    ($make:expr) => {
        $crate::__area!($make; store::items {
            r14_items_read_back_exactly_to_the_millisecond,
            r14_an_unknown_item_is_none,
            r14_items_are_listed_by_id,
            r14_update_replaces_every_field,
            r14_update_of_an_unknown_item_is_false_and_stores_nothing,
            r14_delete_removes_only_that_item,
            r14_an_empty_store_lists_no_items,
            r34_item_misfire_round_trips_through_the_store,
        });
    };
}

/// One item of each kind with every field set (or unset), times and lock durations with
/// milliseconds.
fn three() -> Vec<SchedulerItem> {
    let base = t0() + ms(4_321);
    vec![
        SchedulerItem {
            id: item_id(1),
            next_call_time: Some(base + ms(10_001)),
            locked_until: Some(base + ms(1_001)),
            ..SchedulerItem::delay("echo", 10)
                .with_input(json!({"$where": "1", "a.b": [1, 2.5, "ü"], "": null}))
                .with_lock_duration(Duration::from_millis(1_500))
        },
        SchedulerItem {
            id: item_id(2),
            next_call_time: Some(base + ms(3_600_000)),
            ..SchedulerItem::cron(
                "cron job",
                CronLists {
                    minute: vec![0, 15, 30, 45],
                    hour: vec![2, 13],
                    day_of_month: vec![1, 31],
                    month: vec![1, 12],
                    day_of_week: vec![0, 6],
                },
            )
            .with_input(json!([1, "two"]))
        },
        SchedulerItem {
            id: item_id(3),
            ..SchedulerItem::crontab("tab", "*/15 9-17 * * mon-fri", "Europe/Zurich")
                .with_active(false)
                .with_lock_duration(Duration::from_millis(1))
        },
    ]
}

/// R14: items of every kind read back exactly as inserted, through `get_item` and
/// `list_items`.
pub async fn r14_items_read_back_exactly_to_the_millisecond(store: TestStore) {
    let items = three();
    insert_items(&*store.items, &items).await;
    for item in &items {
        assert_eq!(&stored_item(&*store.items, &item.id).await, item);
    }
    assert_eq!(store.items.list_items().await.unwrap(), items);
}

/// R14: an id never stored reads as `None`.
pub async fn r14_an_unknown_item_is_none(store: TestStore) {
    assert_eq!(store.items.get_item(&item_id(1)).await.unwrap(), None);
    insert_items(&*store.items, &[item(2, None)]).await;
    assert_eq!(store.items.get_item(&item_id(1)).await.unwrap(), None);
}

/// R14: items are listed by id, whatever order they were inserted in.
pub async fn r14_items_are_listed_by_id(store: TestStore) {
    for n in [3, 1, 4, 2] {
        insert_items(&*store.items, &[item(n, Some(t0()))]).await;
    }
    assert_eq!(
        item_ids(&store.items.list_items().await.unwrap()),
        [1, 2, 3, 4].map(item_id).to_vec()
    );
}

/// R14: an update replaces every field of the stored item (its kind too) and answers `true`;
/// the other items are unchanged.
pub async fn r14_update_replaces_every_field(store: TestStore) {
    let items = three();
    insert_items(&*store.items, &items).await;
    let changed = SchedulerItem {
        id: item_id(1),
        job_name: "renamed".into(),
        input: json!({"new": true}),
        active: false,
        next_call_time: None,
        locked_until: None,
        lock_duration: Duration::from_millis(2_222),
        schedule: items[2].schedule.clone(),
        misfire: Misfire::FireEach { max: 3 },
    };
    assert!(store.items.update_item(&changed).await.unwrap());
    assert_eq!(stored_item(&*store.items, &item_id(1)).await, changed);
    let back = SchedulerItem {
        id: item_id(1),
        ..items[1].clone()
    };
    assert!(store.items.update_item(&back).await.unwrap());
    assert_eq!(stored_item(&*store.items, &item_id(1)).await, back);
    assert_eq!(
        store.items.list_items().await.unwrap(),
        vec![back, items[1].clone(), items[2].clone()]
    );
}

/// R14: updating an item that is not stored answers `false` and stores nothing.
pub async fn r14_update_of_an_unknown_item_is_false_and_stores_nothing(store: TestStore) {
    assert!(!store.items.update_item(&item(1, Some(t0()))).await.unwrap());
    assert!(store.items.list_items().await.unwrap().is_empty());
}

/// R14: a delete removes that item only and answers `true`; deleting it again, or an id
/// never stored, answers `false`.
pub async fn r14_delete_removes_only_that_item(store: TestStore) {
    let items = three();
    insert_items(&*store.items, &items).await;
    assert!(store.items.delete_item(&item_id(2)).await.unwrap());
    assert_eq!(store.items.get_item(&item_id(2)).await.unwrap(), None);
    assert_eq!(
        store.items.list_items().await.unwrap(),
        vec![items[0].clone(), items[2].clone()]
    );
    assert!(!store.items.delete_item(&item_id(2)).await.unwrap());
    assert!(!store.items.delete_item(&item_id(9)).await.unwrap());
    assert_eq!(store.items.list_items().await.unwrap().len(), 2);
}

/// R14: an empty store lists no items.
pub async fn r14_an_empty_store_lists_no_items(store: TestStore) {
    assert!(store.items.list_items().await.unwrap().is_empty());
}

/// R34: an item's misfire policy, of every kind, reads back as inserted through `get_item`,
/// `list_items` and `claim_items`, and an update replaces it.
pub async fn r34_item_misfire_round_trips_through_the_store(store: TestStore) {
    let policies = [
        Misfire::FireOnce,
        Misfire::Skip,
        Misfire::FireEach { max: 1 },
        Misfire::FireEach { max: u32::MAX },
    ];
    let items: Vec<SchedulerItem> = policies
        .iter()
        .zip(1..)
        .map(|(misfire, n)| item(n, Some(t0() + ms(n as i64))).with_misfire(*misfire))
        .collect();
    insert_items(&*store.items, &items).await;
    for item in &items {
        assert_eq!(&stored_item(&*store.items, &item.id).await, item);
    }
    assert_eq!(store.items.list_items().await.unwrap(), items);
    let claimed = claim_items(&*store.items, t0() + ms(10), t0() + ms(1_010), 10).await;
    assert_eq!(
        claimed.iter().map(|i| i.misfire).collect::<Vec<_>>(),
        policies,
        "a claim returns the policies"
    );

    let changed = SchedulerItem {
        misfire: Misfire::FireEach { max: 12 },
        ..claimed[1].clone()
    };
    assert!(store.items.update_item(&changed).await.unwrap());
    assert_eq!(stored_item(&*store.items, &item_id(2)).await, changed);
    let back = SchedulerItem {
        misfire: Misfire::FireOnce,
        ..changed
    };
    assert!(store.items.update_item(&back).await.unwrap());
    assert_eq!(
        stored_item(&*store.items, &item_id(2)).await.misfire,
        Misfire::FireOnce
    );
}
