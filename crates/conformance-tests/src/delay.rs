//! R17 Delay items, starting with the Delay story of m01.remote's `scheduler.txt` re-read under
//! the contract (next call = pull time + delay; the lock is `now + lock_duration`).

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use remote_core::{Error, ItemId, JobQuery, Processor, Schedule, SchedulerItem};
use serde_json::json;

use crate::support::{at, t0, Harness, TestStore};

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_delay {
    ($make:expr) => {
        $crate::__area!($make; delay {
            r17_doctest_delay_story,
            r17_new_delay_without_next_call_time_is_due_at_creation_plus_delay,
            r17_next_call_time_is_pull_time_plus_delay,
            r17_the_lock_is_respected,
            r17_inactive_delay_never_fires,
            r17_zero_delay_never_fires,
            r17_zero_delay_with_an_explicit_next_call_time_never_fires,
            r17_explicit_next_call_time_is_respected,
            r17_each_delay_item_keeps_its_own_rhythm,
            r17_too_large_delay_is_rejected_at_creation,
        });
    };
}

fn secs(n: i64) -> TimeDelta {
    TimeDelta::seconds(n)
}

async fn pull_id(p: &Processor) -> Option<ItemId> {
    p.pull_next_scheduler_item().await.unwrap().map(|i| i.id)
}

async fn stored(h: &Harness, id: &ItemId) -> SchedulerItem {
    h.p.scheduler_item(id).await.unwrap()
}

/// scheduler.txt "Delay" under the contract: an item with delay 10, lock duration 5 and next call
/// now+10 is pulled at now+10 (not before), locked until now+15 and next due at now+20 (the
/// doctest kept now+10 and re-fired at now+15); a second item without next call time is due at
/// creation + delay; both are listed and removed.
pub async fn r17_doctest_delay_story(store: TestStore) {
    let now = at("2010-10-01T00:00:00Z");
    let h = Harness::at(store, now);
    let first =
        h.p.add_scheduler_item(
            SchedulerItem::delay("echo", 10)
                .with_lock_duration(Duration::from_secs(5))
                .with_next_call_time(now + secs(10)),
        )
        .await
        .unwrap();
    let item = stored(&h, &first).await;
    assert_eq!(item.schedule, Schedule::Delay { delay: 10 });
    assert_eq!(item.lock_duration, Duration::from_secs(5));
    assert_eq!(item.next_call_time, Some(now + secs(10)));
    assert_eq!(item.locked_until, None);

    assert_eq!(pull_id(&h.p).await, None, "not due at now");
    h.clock.set(now + secs(10));
    let pulled = h.p.pull_next_scheduler_item().await.unwrap().expect("due");
    assert_eq!(pulled.id, first);
    assert_eq!(pulled.locked_until, Some(now + secs(15)));
    assert_eq!(pulled.next_call_time, Some(now + secs(20)));
    let item = stored(&h, &first).await;
    assert_eq!(item.locked_until, Some(now + secs(15)));
    assert_eq!(item.next_call_time, Some(now + secs(20)));
    assert_eq!(pull_id(&h.p).await, None, "locked and not due");
    h.clock.set(now + secs(15));
    assert_eq!(
        pull_id(&h.p).await,
        None,
        "unlocked but next call is now+20"
    );
    h.clock.set(now + secs(20));
    assert_eq!(pull_id(&h.p).await, Some(first.clone()));
    let item = stored(&h, &first).await;
    assert_eq!(
        item.locked_until,
        Some(now + secs(25)),
        "lock from the pull time"
    );
    assert_eq!(item.next_call_time, Some(now + secs(30)));
    assert_eq!(pull_id(&h.p).await, None);

    let second =
        h.p.add_scheduler_item(
            SchedulerItem::delay("echo", 10).with_lock_duration(Duration::from_secs(5)),
        )
        .await
        .unwrap();
    assert_eq!(
        stored(&h, &second).await.next_call_time,
        Some(now + secs(30))
    );
    let mut listed: Vec<ItemId> =
        h.p.scheduler_items()
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.id)
            .collect();
    listed.sort();
    let mut expected = vec![first.clone(), second.clone()];
    expected.sort();
    assert_eq!(listed, expected);
    h.p.remove_scheduler_item(&first).await.unwrap();
    h.p.remove_scheduler_item(&second).await.unwrap();
    assert!(h.p.scheduler_items().await.unwrap().is_empty());
}

/// R17: a new Delay without next call time is due at creation + delay, not before.
pub async fn r17_new_delay_without_next_call_time_is_due_at_creation_plus_delay(store: TestStore) {
    let h = Harness::new(store);
    h.clock.set(t0() + secs(7));
    let id =
        h.p.add_scheduler_item(SchedulerItem::delay("echo", 45))
            .await
            .unwrap();
    assert_eq!(stored(&h, &id).await.next_call_time, Some(t0() + secs(52)));
    h.clock.set(t0() + secs(52) - TimeDelta::milliseconds(1));
    assert_eq!(pull_id(&h.p).await, None);
    h.clock.set(t0() + secs(52));
    assert_eq!(pull_id(&h.p).await, Some(id));
}

/// R17: after a pull at t the next call is t + delay, also when the pull was late.
pub async fn r17_next_call_time_is_pull_time_plus_delay(store: TestStore) {
    let h = Harness::new(store);
    let id =
        h.p.add_scheduler_item(SchedulerItem::delay("echo", 60).with_next_call_time(t0()))
            .await
            .unwrap();
    for (pull_at, next) in [(75, 135), (200, 260), (260, 320)] {
        h.clock.set(t0() + secs(pull_at));
        assert_eq!(h.p.fire_due_items().await.unwrap(), 1, "at +{pull_at}s");
        assert_eq!(
            stored(&h, &id).await.next_call_time,
            Some(t0() + secs(next)),
            "after the pull at +{pull_at}s"
        );
    }
    h.clock.set(t0() + secs(319));
    assert_eq!(h.p.fire_due_items().await.unwrap(), 0);
}

/// R17 + R15: with a lock duration longer than the delay, a pulled item is not pulled again
/// before its lock ends, even though its next call time passed.
pub async fn r17_the_lock_is_respected(store: TestStore) {
    let h = Harness::new(store);
    let id =
        h.p.add_scheduler_item(
            SchedulerItem::delay("echo", 10)
                .with_lock_duration(Duration::from_secs(15))
                .with_next_call_time(t0() + secs(10)),
        )
        .await
        .unwrap();
    h.clock.set(t0() + secs(10));
    assert_eq!(pull_id(&h.p).await, Some(id.clone()));
    h.clock.set(t0() + secs(20));
    assert_eq!(pull_id(&h.p).await, None, "due but locked until +25 s");
    h.clock.set(t0() + secs(25));
    assert_eq!(pull_id(&h.p).await, Some(id.clone()));
    let item = stored(&h, &id).await;
    assert_eq!(item.next_call_time, Some(t0() + secs(35)));
    assert_eq!(item.locked_until, Some(t0() + secs(40)));
}

/// R17: an inactive Delay never fires, however long one waits.
pub async fn r17_inactive_delay_never_fires(store: TestStore) {
    let h = Harness::new(store);
    h.p.add_scheduler_item(
        SchedulerItem::delay("echo", 10)
            .with_active(false)
            .with_next_call_time(t0()),
    )
    .await
    .unwrap();
    for _ in 0..10 {
        assert_eq!(pull_id(&h.p).await, None);
        assert_eq!(h.p.fire_due_items().await.unwrap(), 0);
        h.advance(Duration::from_secs(3600));
    }
    assert!(h
        .p
        .list_jobs(&JobQuery::default())
        .await
        .unwrap()
        .is_empty());
}

/// R17: a Delay of 0 has no next call time and never fires.
pub async fn r17_zero_delay_never_fires(store: TestStore) {
    let h = Harness::new(store);
    let id =
        h.p.add_scheduler_item(SchedulerItem::delay("echo", 0))
            .await
            .unwrap();
    assert_eq!(stored(&h, &id).await.next_call_time, None);
    for _ in 0..5 {
        h.advance(Duration::from_secs(86_400));
        assert_eq!(pull_id(&h.p).await, None);
        assert_eq!(h.p.fire_due_items().await.unwrap(), 0);
    }
}

/// R17: a Delay of 0 never fires, even when created with an explicit next call time.
pub async fn r17_zero_delay_with_an_explicit_next_call_time_never_fires(store: TestStore) {
    let h = Harness::new(store);
    h.p.add_scheduler_item(SchedulerItem::delay("echo", 0).with_next_call_time(t0()))
        .await
        .unwrap();
    for _ in 0..3 {
        assert_eq!(h.p.fire_due_items().await.unwrap(), 0);
        h.advance(Duration::from_secs(3600));
    }
    assert!(h
        .p
        .list_jobs(&JobQuery::default())
        .await
        .unwrap()
        .is_empty());
}

/// R17: an explicit next call time is kept: a near one fires before creation + delay, a
/// past one fires at once (then now + delay).
pub async fn r17_explicit_next_call_time_is_respected(store: TestStore) {
    let h = Harness::new(store);
    let soon = h
        .p
        .add_scheduler_item(SchedulerItem::delay("echo", 60).with_next_call_time(t0() + secs(5)))
        .await
        .unwrap();
    let past: DateTime<Utc> = t0() - secs(3600);
    let overdue =
        h.p.add_scheduler_item(SchedulerItem::delay("echo", 60).with_next_call_time(past))
            .await
            .unwrap();
    assert_eq!(stored(&h, &soon).await.next_call_time, Some(t0() + secs(5)));
    assert_eq!(stored(&h, &overdue).await.next_call_time, Some(past));
    assert_eq!(pull_id(&h.p).await, Some(overdue.clone()));
    assert_eq!(
        stored(&h, &overdue).await.next_call_time,
        Some(t0() + secs(60))
    );
    assert_eq!(pull_id(&h.p).await, None);
    h.clock.set(t0() + secs(5));
    assert_eq!(pull_id(&h.p).await, Some(soon.clone()));
    assert_eq!(
        stored(&h, &soon).await.next_call_time,
        Some(t0() + secs(65))
    );
}

/// R17: items with different delays fire independently: over 100 s, a 10 s Delay fires 10
/// times and a 25 s Delay 4 times.
pub async fn r17_each_delay_item_keeps_its_own_rhythm(store: TestStore) {
    let h = Harness::new(store);
    h.p.add_scheduler_item(SchedulerItem::delay("echo", 10).with_input(json!("fast")))
        .await
        .unwrap();
    h.p.add_scheduler_item(SchedulerItem::delay("echo", 25).with_input(json!("slow")))
        .await
        .unwrap();
    for _ in 0..20 {
        h.advance(Duration::from_secs(5));
        h.p.fire_due_items().await.unwrap();
    }
    let all = h.p.list_jobs(&JobQuery::default()).await.unwrap();
    let count = |input| all.iter().filter(|j| j.input == json!(input)).count();
    assert_eq!(count("fast"), 10);
    assert_eq!(count("slow"), 4);
}

/// R17 + R14: a delay too large to add to a time is a typed error at creation.
pub async fn r17_too_large_delay_is_rejected_at_creation(store: TestStore) {
    let h = Harness::new(store);
    let result =
        h.p.add_scheduler_item(SchedulerItem::delay("echo", u64::MAX))
            .await;
    assert!(matches!(result, Err(Error::InvalidCron(_))), "{result:?}");
    assert!(h.p.scheduler_items().await.unwrap().is_empty());
}
