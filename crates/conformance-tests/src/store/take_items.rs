//! `SchedulerStore::take_items` (R15): a claimed item's `next_call_time` and lock are written
//! only while they are still the ones the taker read and the item is active; so each
//! occurrence is taken once.

use std::time::Duration;

use remote_core::{InsertJobs, Job, JobId, OnConflict, SchedulerItem, Take};
use serde_json::json;

use super::{
    all_jobs, claim_items, insert_items, item, item_id, ms, secs, stored_item, t, take_of,
};
use crate::support::{TestStore, PATIENCE};

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_store_take_items {
    ($make:expr) => {
        $crate::__area!($make; store::take_items {
            r15_a_take_writes_next_call_time_and_lock_when_both_are_as_expected,
            r15_a_take_is_refused_when_next_call_time_changed,
            r15_a_take_is_refused_when_the_lock_changed,
            r15_a_take_is_refused_for_an_inactive_item,
            r15_a_take_of_a_deleted_or_unknown_item_is_refused,
            r15_a_take_may_set_a_lock_and_clear_next_call_time,
            r15_each_entry_is_fenced_on_its_own,
            r15_an_empty_batch_answers_nothing,
            r15_racing_takes_of_one_occurrence_apply_once,
            r15_two_handles_racing_for_one_occurrence_store_one_job_and_take_it_once,
        });
    };
}

async fn take(store: &TestStore, takes: &[Take]) -> Vec<bool> {
    store.items.take_items(takes).await.unwrap()
}

/// Inserts item 1 due at +5 s and claims it at +10 s with a lock until +11 s.
async fn claimed_one(store: &TestStore) -> SchedulerItem {
    insert_items(&*store.items, &[item(1, Some(t(5)))]).await;
    let mut claimed = claim_items(&*store.items, t(10), t(11), 1).await;
    assert_eq!(claimed.len(), 1);
    claimed.remove(0)
}

/// R15: with `next_call_time` and lock as read, a take writes the new `next_call_time` and
/// lock and nothing else.
pub async fn r15_a_take_writes_next_call_time_and_lock_when_both_are_as_expected(store: TestStore) {
    let claimed = claimed_one(&store).await;
    let next = t(70) + ms(7);
    assert_eq!(
        take(&store, &[take_of(&claimed, Some(next), None)]).await,
        vec![true]
    );
    let expected = SchedulerItem {
        next_call_time: Some(next),
        locked_until: None,
        ..claimed
    };
    assert_eq!(stored_item(&*store.items, &item_id(1)).await, expected);
}

/// R15: when `next_call_time` changed after the claim (the item's rule was changed, its lock
/// kept), the take is refused and changes nothing; so is a second take of an occurrence
/// another scheduler took first.
pub async fn r15_a_take_is_refused_when_next_call_time_changed(store: TestStore) {
    let claimed = claimed_one(&store).await;
    let changed = SchedulerItem {
        next_call_time: Some(t(500)),
        ..claimed.clone()
    };
    assert!(store.items.update_item(&changed).await.unwrap());
    assert_eq!(
        take(&store, &[take_of(&claimed, Some(t(70)), None)]).await,
        vec![false]
    );
    assert_eq!(stored_item(&*store.items, &item_id(1)).await, changed);
    // A take that keeps the lock: only `next_call_time` tells the repeated take apart.
    let first = take_of(&changed, Some(t(560)), changed.locked_until);
    assert_eq!(take(&store, std::slice::from_ref(&first)).await, vec![true]);
    let taken = stored_item(&*store.items, &item_id(1)).await;
    assert_eq!(take(&store, &[first]).await, vec![false]);
    assert_eq!(stored_item(&*store.items, &item_id(1)).await, taken);
}

/// R15, R25: when the lock changed (the first claim's lock ended and another scheduler
/// claimed the item), the first claimer's take is refused and the second's applies.
pub async fn r15_a_take_is_refused_when_the_lock_changed(store: TestStore) {
    let first = claimed_one(&store).await;
    let mut again = claim_items(&*store.items, t(11), t(12), 1).await;
    assert_eq!(again.len(), 1, "claimed again once the first lock ended");
    let second = again.remove(0);
    assert_eq!(second.next_call_time, first.next_call_time);
    assert_eq!(
        take(&store, &[take_of(&first, Some(t(70)), None)]).await,
        vec![false]
    );
    assert_eq!(
        stored_item(&*store.items, &item_id(1)).await,
        second,
        "the refused take changed nothing"
    );
    assert_eq!(
        take(&store, &[take_of(&second, Some(t(71)), None)]).await,
        vec![true]
    );
    assert_eq!(
        stored_item(&*store.items, &item_id(1)).await.next_call_time,
        Some(t(71))
    );
}

/// R15: an item paused after it was claimed (times unchanged) is not taken.
pub async fn r15_a_take_is_refused_for_an_inactive_item(store: TestStore) {
    let claimed = claimed_one(&store).await;
    let paused = claimed.clone().with_active(false);
    assert!(store.items.update_item(&paused).await.unwrap());
    assert_eq!(
        take(&store, &[take_of(&claimed, Some(t(70)), None)]).await,
        vec![false]
    );
    assert_eq!(stored_item(&*store.items, &item_id(1)).await, paused);
}

/// R15: a take of an item deleted after its claim, or never stored, is refused and stores
/// nothing.
pub async fn r15_a_take_of_a_deleted_or_unknown_item_is_refused(store: TestStore) {
    let claimed = claimed_one(&store).await;
    assert!(store.items.delete_item(&item_id(1)).await.unwrap());
    let unknown = Take {
        id: item_id(9),
        ..take_of(&claimed, Some(t(70)), None)
    };
    assert_eq!(
        take(&store, &[take_of(&claimed, Some(t(70)), None), unknown]).await,
        vec![false, false]
    );
    assert!(store.items.list_items().await.unwrap().is_empty());
}

/// R15: a take may write a lock (as `pull_next_scheduler_item` does) and may clear
/// `next_call_time` (a rule that never fires again).
pub async fn r15_a_take_may_set_a_lock_and_clear_next_call_time(store: TestStore) {
    let claimed = claimed_one(&store).await;
    let lock = t(310) + ms(5);
    assert_eq!(
        take(&store, &[take_of(&claimed, Some(t(70)), Some(lock))]).await,
        vec![true]
    );
    let locked = stored_item(&*store.items, &item_id(1)).await;
    assert_eq!(locked.locked_until, Some(lock));
    assert_eq!(locked.next_call_time, Some(t(70)));
    let never = Take {
        id: item_id(1),
        expected_next_call_time: t(70),
        expected_locked_until: lock,
        next_call_time: None,
        locked_until: None,
    };
    assert_eq!(take(&store, &[never]).await, vec![true]);
    let done = stored_item(&*store.items, &item_id(1)).await;
    assert_eq!(done.next_call_time, None);
    assert_eq!(done.locked_until, None);
    assert!(
        claim_items(&*store.items, t(10_000), t(10_001), 5)
            .await
            .is_empty(),
        "an item without next call time is never due"
    );
}

/// R15: in one batch each take is fenced on its own and answered in the order of the entries.
pub async fn r15_each_entry_is_fenced_on_its_own(store: TestStore) {
    let items: Vec<SchedulerItem> = (1..=4).map(|n| item(n, Some(t(n as i64)))).collect();
    insert_items(&*store.items, &items).await;
    let claimed = claim_items(&*store.items, t(10), t(11), 4).await;
    assert_eq!(claimed.len(), 4);
    let paused = claimed[2].clone().with_active(false);
    assert!(store.items.update_item(&paused).await.unwrap());
    let stale = Take {
        expected_next_call_time: t(99),
        ..take_of(&claimed[1], Some(t(80)), None)
    };
    let batch = vec![
        take_of(&claimed[3], Some(t(64)), None),
        stale,
        take_of(&claimed[2], Some(t(63)), None),
        take_of(&claimed[0], Some(t(61)), None),
    ];
    assert_eq!(take(&store, &batch).await, vec![true, false, false, true]);
    assert_eq!(
        stored_item(&*store.items, &item_id(4)).await.next_call_time,
        Some(t(64))
    );
    assert_eq!(
        stored_item(&*store.items, &item_id(1)).await.next_call_time,
        Some(t(61))
    );
    assert_eq!(stored_item(&*store.items, &item_id(2)).await, claimed[1]);
    assert_eq!(stored_item(&*store.items, &item_id(3)).await, paused);
}

/// R15: an empty batch is answered with no entries.
pub async fn r15_an_empty_batch_answers_nothing(store: TestStore) {
    assert_eq!(take(&store, &[]).await, Vec::<bool>::new());
}

/// R15: eight takes of one occurrence racing at once apply exactly once.
pub async fn r15_racing_takes_of_one_occurrence_apply_once(store: TestStore) {
    let claimed = claimed_one(&store).await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let items = store.items.clone();
            let take = take_of(&claimed, Some(t(60 + i)), None);
            tokio::spawn(async move { items.take_items(&[take]).await.unwrap() == vec![true] })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        won += usize::from(tokio::time::timeout(PATIENCE, task).await.unwrap().unwrap());
    }
    assert_eq!(won, 1, "one occurrence is taken once");
}

/// R15: eight schedulers on two handles (as two processes) that read the same occurrence
/// each store its job under the occurrence's id, skipping a stored id, then take the item:
/// one job is stored and the item is taken once.
pub async fn r15_two_handles_racing_for_one_occurrence_store_one_job_and_take_it_once(
    store: TestStore,
) {
    let other = store.another_handle().await;
    let claimed = claimed_one(&store).await;
    let occurrence = claimed.next_call_time.expect("due");
    let job_id = JobId::for_occurrence(&claimed.id, occurrence);
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let handle = if i % 2 == 0 { &store } else { &other };
            let (jobs, items) = (handle.jobs.clone(), handle.items.clone());
            let job = Job {
                id: job_id.clone(),
                ..Job::queued(
                    "echo",
                    json!({ "scheduler": i }),
                    3,
                    Duration::from_secs(10),
                    t(10),
                )
            };
            let take = take_of(&claimed, Some(occurrence + secs(60)), None);
            tokio::spawn(async move {
                let stored = jobs
                    .insert_jobs(&InsertJobs {
                        jobs: &[job],
                        on_conflict: OnConflict::Skip,
                    })
                    .await
                    .unwrap();
                let taken = items.take_items(&[take]).await.unwrap();
                (
                    stored == vec![remote_core::Inserted::Stored],
                    taken == vec![true],
                )
            })
        })
        .collect();
    let (mut stored, mut taken) = (0, 0);
    for task in tasks {
        let (s, k) = tokio::time::timeout(PATIENCE, task).await.unwrap().unwrap();
        stored += usize::from(s);
        taken += usize::from(k);
    }
    assert_eq!(stored, 1, "one job stored for the occurrence");
    assert_eq!(taken, 1, "the occurrence taken once");
    let jobs = all_jobs(&*other.jobs).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].id, job_id);
    let item = stored_item(&*other.items, &item_id(1)).await;
    assert_eq!(item.next_call_time, Some(occurrence + secs(60)));
    assert_eq!(item.locked_until, None);
}
