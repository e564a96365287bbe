//! `SchedulerStore::claim_items` (R15, R25): due items (active, `next_call_time <= now`,
//! unlocked at `now`) are locked and returned, earliest `next_call_time` first, each to one
//! claimer only.

use std::collections::HashSet;
use std::sync::Arc;

use remote_core::{ItemId, SchedulerItem, SchedulerStore};

use super::{claim_items, insert_items, item, item_id, item_ids, ms, secs, stored_item, t};
use crate::support::{TestStore, PATIENCE};

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_store_claim_items {
    ($make:expr) => {
        $crate::__area!($make; store::claim_items {
            r15_only_due_items_are_claimed,
            r15_the_earliest_next_call_time_is_claimed_first_ties_by_smaller_id,
            r25_a_claim_writes_the_lock_and_returns_items_as_stored,
            r25_a_claimed_item_is_not_claimed_again_until_its_lock_ends,
            r15_locked_and_inactive_items_never_hide_a_due_item,
            r15_a_limit_bounds_a_claim_and_zero_claims_nothing,
            r25_concurrent_claimers_get_different_items,
            r25_two_handles_claiming_at_once_get_different_items,
        });
    };
}

/// R15: an item is due when it is active, its `next_call_time` is at or before `now`, and it
/// is unlocked or its lock ended at or before `now`; only due items are claimed, and the
/// others are untouched.
pub async fn r15_only_due_items_are_claimed(store: TestStore) {
    let now = t(100);
    let items = vec![
        item(1, Some(now)),
        SchedulerItem {
            locked_until: Some(now),
            ..item(2, Some(now - ms(1)))
        },
        item(3, Some(now + ms(1))),
        item(4, Some(now - secs(10))).with_active(false),
        item(5, None),
        SchedulerItem {
            locked_until: Some(now + ms(1)),
            ..item(6, Some(now - secs(5)))
        },
        SchedulerItem {
            locked_until: Some(t(50)),
            ..item(7, Some(t(0)))
        },
    ];
    insert_items(&*store.items, &items).await;
    let claimed = claim_items(&*store.items, now, now + secs(1), 10).await;
    assert_eq!(item_ids(&claimed), [7, 2, 1].map(item_id).to_vec());
    for n in [3, 4, 5, 6] {
        assert_eq!(
            stored_item(&*store.items, &item_id(n)).await,
            items[n as usize - 1],
            "item {n} untouched"
        );
    }
}

/// R15: claims of one item each take the earliest `next_call_time` first, ties by the
/// smaller id.
pub async fn r15_the_earliest_next_call_time_is_claimed_first_ties_by_smaller_id(store: TestStore) {
    for (n, at) in [(1, 5), (3, 3), (2, 3), (4, 1), (5, 4)] {
        insert_items(&*store.items, &[item(n, Some(t(at)))]).await;
    }
    let mut order = Vec::new();
    for _ in 0..5 {
        let claimed = claim_items(&*store.items, t(10), t(11), 1).await;
        assert_eq!(claimed.len(), 1);
        order.push(claimed[0].id.clone());
    }
    assert_eq!(order, [4, 2, 3, 5, 1].map(item_id).to_vec());
    assert!(claim_items(&*store.items, t(10), t(11), 1).await.is_empty());
}

/// R25: a claim writes `locked_until` on each item it takes, changes nothing else, and
/// returns the items as stored.
pub async fn r25_a_claim_writes_the_lock_and_returns_items_as_stored(store: TestStore) {
    let due = item(1, Some(t(5)));
    insert_items(&*store.items, std::slice::from_ref(&due)).await;
    let lock = t(10) + ms(1_234);
    let claimed = claim_items(&*store.items, t(10), lock, 5).await;
    let expected = SchedulerItem {
        locked_until: Some(lock),
        ..due
    };
    assert_eq!(claimed, vec![expected.clone()]);
    assert_eq!(stored_item(&*store.items, &item_id(1)).await, expected);
}

/// R25: a claimed item is not claimed again while its lock lasts; from the lock's end on it
/// is claimed again (it is still due).
pub async fn r25_a_claimed_item_is_not_claimed_again_until_its_lock_ends(store: TestStore) {
    insert_items(&*store.items, &[item(1, Some(t(5)))]).await;
    assert_eq!(claim_items(&*store.items, t(10), t(11), 5).await.len(), 1);
    assert!(claim_items(&*store.items, t(10), t(12), 5).await.is_empty());
    assert!(claim_items(&*store.items, t(11) - ms(1), t(12), 5)
        .await
        .is_empty());
    let again = claim_items(&*store.items, t(11), t(12), 5).await;
    assert_eq!(item_ids(&again), vec![item_id(1)]);
    assert_eq!(again[0].locked_until, Some(t(12)));
}

/// R15: thirty locked and thirty inactive items due earlier never hide the one due item from
/// a claim of one.
pub async fn r15_locked_and_inactive_items_never_hide_a_due_item(store: TestStore) {
    let mut items = Vec::new();
    for n in 1..=30 {
        items.push(SchedulerItem {
            locked_until: Some(t(1_000)),
            ..item(n, Some(t(n as i64)))
        });
        items.push(item(100 + n, Some(t(n as i64))).with_active(false));
    }
    items.push(item(500, Some(t(99))));
    insert_items(&*store.items, &items).await;
    let claimed = claim_items(&*store.items, t(100), t(101), 1).await;
    assert_eq!(item_ids(&claimed), vec![item_id(500)]);
}

/// R15: a claim takes at most `limit` items in order; a limit of 0 takes none and locks none.
pub async fn r15_a_limit_bounds_a_claim_and_zero_claims_nothing(store: TestStore) {
    let items: Vec<SchedulerItem> = (1..=5).map(|n| item(n, Some(t(n as i64)))).collect();
    insert_items(&*store.items, &items).await;
    assert!(claim_items(&*store.items, t(10), t(11), 0).await.is_empty());
    assert_eq!(store.items.list_items().await.unwrap(), items);
    assert_eq!(
        item_ids(&claim_items(&*store.items, t(10), t(11), 2).await),
        [1, 2].map(item_id).to_vec()
    );
    assert_eq!(
        item_ids(&claim_items(&*store.items, t(10), t(11), 10).await),
        [3, 4, 5].map(item_id).to_vec()
    );
}

/// Claims batches of 3 until none is left; the ids claimed.
async fn claim_until_empty(items: Arc<dyn SchedulerStore>) -> Vec<ItemId> {
    let mut mine = Vec::new();
    for _ in 0..100 {
        let claimed = claim_items(&*items, t(100), t(160), 3).await;
        if claimed.is_empty() {
            return mine;
        }
        assert!(claimed.len() <= 3, "limit kept");
        mine.extend(item_ids(&claimed));
        tokio::task::yield_now().await;
    }
    panic!("claims never ran dry: {} items claimed", mine.len());
}

/// Checks that the claimers together took each of `n` items exactly once.
async fn assert_claimed_once(claimers: Vec<tokio::task::JoinHandle<Vec<ItemId>>>, n: u64) {
    let mut claimed = HashSet::new();
    for task in claimers {
        for id in tokio::time::timeout(PATIENCE, task).await.unwrap().unwrap() {
            assert!(claimed.insert(id.clone()), "item {id} claimed twice");
        }
    }
    let all: HashSet<ItemId> = (1..=n).map(item_id).collect();
    assert_eq!(claimed, all, "every item claimed");
}

/// R25: eight claimers at once get different items and together all 50.
pub async fn r25_concurrent_claimers_get_different_items(store: TestStore) {
    let items: Vec<SchedulerItem> = (1..=50).map(|n| item(n, Some(t(n as i64)))).collect();
    insert_items(&*store.items, &items).await;
    let claimers = (0..8)
        .map(|_| tokio::spawn(claim_until_empty(store.items.clone())))
        .collect();
    assert_claimed_once(claimers, 50).await;
}

/// R25: claimers on two handles on the same data (as two scheduler processes) get different
/// items and together all 50.
pub async fn r25_two_handles_claiming_at_once_get_different_items(store: TestStore) {
    let other = store.another_handle().await;
    let items: Vec<SchedulerItem> = (1..=50).map(|n| item(n, Some(t(n as i64)))).collect();
    insert_items(&*store.items, &items).await;
    assert_eq!(other.items.list_items().await.unwrap().len(), 50);
    let claimers = (0..6)
        .map(|c| {
            let handle = if c % 2 == 0 { &store } else { &other };
            tokio::spawn(claim_until_empty(handle.items.clone()))
        })
        .collect();
    assert_claimed_once(claimers, 50).await;
}
