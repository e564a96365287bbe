//! R14–R16: scheduler items (add, list, get, update, remove, pause), the due/lock rules of
//! `pull_next_scheduler_item`, several schedulers on one store, and firing.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use remote_core::{
    handler_fn, CronLists, Error, ItemId, Job, JobContext, JobError, JobFactory, JobId, JobQuery,
    JobStatus, Processor, Schedule, SchedulerItem,
};
use serde_json::{json, Value};

use crate::support::{at, t0, unique_name, watch_logs, Harness, TestStore};

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_scheduler {
    ($make:expr) => {
        $crate::__area!($make; scheduler {
            r14_add_scheduler_item_stores_every_field_to_the_millisecond,
            r14_items_default_to_active_with_a_300_s_lock,
            r14_list_scheduler_items_returns_every_item_by_id,
            r14_update_scheduler_item_persists_the_changes,
            r14_remove_scheduler_item_deletes_only_that_item,
            r14_unknown_item_id_is_item_not_found,
            r14_malformed_rule_is_rejected_at_creation_and_on_update,
            r14_deactivated_item_never_fires,
            r14_resumed_item_does_not_fire_for_the_time_it_was_paused,
            r14_changing_the_rule_recomputes_next_call_time,
            r15_pull_takes_the_due_item_with_the_earliest_next_call_time,
            r15_pull_locks_the_item_and_advances_next_call_time,
            r15_due_and_lock_bounds_are_inclusive,
            r15_missed_delay_occurrences_fire_once,
            r15_missed_cron_occurrences_fire_once,
            r15_locked_item_does_not_hide_other_due_items,
            r15_inactive_item_does_not_hide_other_due_items,
            r15_many_locked_and_inactive_items_do_not_hide_a_due_item,
            r15_locked_item_is_pulled_again_after_its_lock_only_if_still_due,
            r15_pull_without_firing_keeps_the_lock_for_lock_duration,
            r15_three_schedulers_firing_at_once_add_one_job_per_occurrence,
            r15_schedulers_on_two_handles_add_one_job_per_occurrence,
            r15_three_schedulers_pulling_at_once_take_each_occurrence_once,
            r15_three_scheduler_workers_add_one_job_per_occurrence,
            r15_an_occurrence_whose_job_a_dead_scheduler_stored_is_not_added_again,
            r16_fire_due_items_adds_the_job_with_the_items_input,
            r16_fire_due_items_fires_every_due_item_once,
            r16_unknown_job_name_logs_an_error_and_stays_scheduled,
            r16_scheduler_worker_fires_due_items_until_stopped,
            r16_firing_leaves_no_lock_so_an_every_minute_cron_fires_every_minute,
            r16_firing_leaves_no_lock_so_a_delay_fires_every_delay,
        });
    };
}

fn secs(n: i64) -> TimeDelta {
    TimeDelta::seconds(n)
}

fn echo_factory() -> JobFactory {
    JobFactory::new(
        "echo",
        handler_fn(|ctx: JobContext| async move { Ok::<_, JobError>(ctx.input) }),
    )
}

/// The name of the pulled item, or `None`.
async fn pull(p: &Processor) -> Option<SchedulerItem> {
    p.pull_next_scheduler_item().await.expect("pull")
}

async fn pull_id(p: &Processor) -> Option<ItemId> {
    pull(p).await.map(|i| i.id)
}

async fn jobs(h: &Harness) -> Vec<remote_core::Job> {
    h.p.list_jobs(&JobQuery {
        oldest_first: true,
        ..Default::default()
    })
    .await
    .unwrap()
}

fn every_minute() -> CronLists {
    CronLists {
        minute: (0..60).collect(),
        ..Default::default()
    }
}

/// R14 and Time: an added item reads back with every field as given, times cut to the ms.
pub async fn r14_add_scheduler_item_stores_every_field_to_the_millisecond(store: TestStore) {
    let h = Harness::new(store);
    let next = t0() + secs(90) + TimeDelta::nanoseconds(123_456_789);
    let item = SchedulerItem::delay("echo", 60)
        .with_input(json!({"a": [1, 2, {"b": "ü"}]}))
        .with_lock_duration(Duration::from_millis(7_250))
        .with_next_call_time(next);
    let id = h.p.add_scheduler_item(item.clone()).await.unwrap();
    assert_eq!(id, item.id);
    let got = h.p.scheduler_item(&id).await.unwrap();
    assert_eq!(got.id, id);
    assert_eq!(got.job_name, "echo");
    assert_eq!(got.input, json!({"a": [1, 2, {"b": "ü"}]}));
    assert!(got.active);
    assert_eq!(
        got.next_call_time,
        Some(t0() + secs(90) + TimeDelta::milliseconds(123))
    );
    assert_eq!(got.locked_until, None);
    assert_eq!(got.lock_duration, Duration::from_millis(7_250));
    assert_eq!(got.schedule, Schedule::Delay { delay: 60 });
}

/// R14: items default to active with a 300 s lock duration and null input; a Delay without
/// next call time gets creation + delay.
pub async fn r14_items_default_to_active_with_a_300_s_lock(store: TestStore) {
    let h = Harness::new(store);
    let id =
        h.p.add_scheduler_item(SchedulerItem::delay("echo", 60))
            .await
            .unwrap();
    let got = h.p.scheduler_item(&id).await.unwrap();
    assert!(got.active);
    assert_eq!(got.lock_duration, Duration::from_secs(300));
    assert_eq!(got.input, Value::Null);
    assert_eq!(got.next_call_time, Some(t0() + secs(60)));
    assert_eq!(got.locked_until, None);
}

/// R14: listing returns every item (Delay, Cron, crontab), ordered by id, as stored.
pub async fn r14_list_scheduler_items_returns_every_item_by_id(store: TestStore) {
    let h = Harness::new(store);
    assert!(h.p.scheduler_items().await.unwrap().is_empty());
    let a = SchedulerItem::delay("echo", 10);
    let b = SchedulerItem::cron(
        "echo",
        CronLists {
            minute: vec![5],
            ..Default::default()
        },
    )
    .with_input(json!("cron"));
    let c = SchedulerItem::crontab("echo", "*/15 9-17 * * mon-fri", "Europe/Zurich");
    let mut ids = Vec::new();
    for item in [c, a, b] {
        ids.push(h.p.add_scheduler_item(item).await.unwrap());
    }
    ids.sort();
    let listed = h.p.scheduler_items().await.unwrap();
    assert_eq!(listed.iter().map(|i| i.id.clone()).collect::<Vec<_>>(), ids);
    for item in &listed {
        assert_eq!(item, &h.p.scheduler_item(&item.id).await.unwrap());
    }
}

/// R14: an update replaces input, job name and lock duration, and reads back as returned.
pub async fn r14_update_scheduler_item_persists_the_changes(store: TestStore) {
    let h = Harness::new(store);
    let id =
        h.p.add_scheduler_item(SchedulerItem::delay("echo", 60).with_input(json!(1)))
            .await
            .unwrap();
    let stored = h.p.scheduler_item(&id).await.unwrap();
    let changed = SchedulerItem {
        job_name: "sleep".into(),
        input: json!([0, 9]),
        lock_duration: Duration::from_secs(12),
        ..stored.clone()
    };
    let returned = h.p.update_scheduler_item(changed).await.unwrap();
    let got = h.p.scheduler_item(&id).await.unwrap();
    assert_eq!(got, returned);
    assert_eq!(got.job_name, "sleep");
    assert_eq!(got.input, json!([0, 9]));
    assert_eq!(got.lock_duration, Duration::from_secs(12));
    assert_eq!(got.next_call_time, stored.next_call_time, "rule unchanged");
    assert_eq!(h.p.scheduler_items().await.unwrap().len(), 1);
    h.advance(Duration::from_secs(60));
    assert_eq!(h.p.fire_due_items().await.unwrap(), 1);
    let job = &jobs(&h).await[0];
    assert_eq!(job.job_name, "sleep");
    assert_eq!(job.input, json!([0, 9]));
}

/// R14: removing an item deletes it (it never fires again) and leaves the others.
pub async fn r14_remove_scheduler_item_deletes_only_that_item(store: TestStore) {
    let h = Harness::new(store);
    let gone =
        h.p.add_scheduler_item(SchedulerItem::delay("echo", 10).with_input(json!("gone")))
            .await
            .unwrap();
    let kept =
        h.p.add_scheduler_item(SchedulerItem::delay("echo", 10).with_input(json!("kept")))
            .await
            .unwrap();
    h.p.remove_scheduler_item(&gone).await.unwrap();
    assert!(matches!(
        h.p.scheduler_item(&gone).await,
        Err(Error::ItemNotFound(x)) if x == gone
    ));
    let listed = h.p.scheduler_items().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, kept);
    h.advance(Duration::from_secs(10));
    assert_eq!(h.p.fire_due_items().await.unwrap(), 1);
    assert_eq!(jobs(&h).await[0].input, json!("kept"));
    assert!(matches!(
        h.p.remove_scheduler_item(&gone).await,
        Err(Error::ItemNotFound(_))
    ));
}

/// R14: get, update, activate and remove of an unknown id are `Error::ItemNotFound`; an
/// update never inserts.
pub async fn r14_unknown_item_id_is_item_not_found(store: TestStore) {
    let h = Harness::new(store);
    let id = ItemId::new();
    assert!(matches!(h.p.scheduler_item(&id).await, Err(Error::ItemNotFound(x)) if x == id));
    assert!(matches!(
        h.p.remove_scheduler_item(&id).await,
        Err(Error::ItemNotFound(_))
    ));
    assert!(matches!(
        h.p.set_scheduler_item_active(&id, false).await,
        Err(Error::ItemNotFound(_))
    ));
    let never_added = SchedulerItem::delay("echo", 10);
    assert!(matches!(
        h.p.update_scheduler_item(never_added.clone()).await,
        Err(Error::ItemNotFound(x)) if x == never_added.id
    ));
    assert!(h.p.scheduler_items().await.unwrap().is_empty());
}

/// R14: a malformed rule is a typed error when added or updated; nothing is stored or changed.
pub async fn r14_malformed_rule_is_rejected_at_creation_and_on_update(store: TestStore) {
    let h = Harness::new(store);
    let bad = [
        SchedulerItem::delay("echo", u64::MAX),
        SchedulerItem::cron("echo", CronLists::default()),
        SchedulerItem::crontab("echo", "not a rule", ""),
    ];
    for item in bad {
        let result = h.p.add_scheduler_item(item.clone()).await;
        assert!(
            matches!(result, Err(Error::InvalidCron(_))),
            "{:?}: {result:?}",
            item.schedule
        );
    }
    assert!(h.p.scheduler_items().await.unwrap().is_empty());
    let id =
        h.p.add_scheduler_item(SchedulerItem::delay("echo", 60))
            .await
            .unwrap();
    let stored = h.p.scheduler_item(&id).await.unwrap();
    let broken = SchedulerItem {
        schedule: Schedule::Crontab {
            expression: "61 * * * *".into(),
            time_zone: String::new(),
        },
        ..stored.clone()
    };
    assert!(matches!(
        h.p.update_scheduler_item(broken).await,
        Err(Error::InvalidCron(_))
    ));
    assert_eq!(h.p.scheduler_item(&id).await.unwrap(), stored);
}

/// R14: a deactivated (paused) item never fires, however much time passes.
pub async fn r14_deactivated_item_never_fires(store: TestStore) {
    let h = Harness::new(store);
    let id =
        h.p.add_scheduler_item(SchedulerItem::delay("echo", 60))
            .await
            .unwrap();
    let paused = h.p.set_scheduler_item_active(&id, false).await.unwrap();
    assert!(!paused.active);
    assert!(!h.p.scheduler_item(&id).await.unwrap().active);
    for _ in 0..5 {
        h.advance(Duration::from_secs(600));
        assert!(pull(&h.p).await.is_none());
        assert_eq!(h.p.fire_due_items().await.unwrap(), 0);
    }
    assert!(jobs(&h).await.is_empty());
}

/// R14: resuming a paused item does not fire for the time it was paused: its next call time
/// is recomputed from the resume time; a pause that ended before the next call keeps it.
pub async fn r14_resumed_item_does_not_fire_for_the_time_it_was_paused(store: TestStore) {
    let h = Harness::new(store);
    let id =
        h.p.add_scheduler_item(SchedulerItem::delay("echo", 60))
            .await
            .unwrap();
    h.clock.set(t0() + secs(10));
    h.p.set_scheduler_item_active(&id, false).await.unwrap();
    h.clock.set(t0() + secs(20));
    let resumed = h.p.set_scheduler_item_active(&id, true).await.unwrap();
    assert_eq!(
        resumed.next_call_time,
        Some(t0() + secs(60)),
        "a short pause keeps the next call"
    );
    h.p.set_scheduler_item_active(&id, false).await.unwrap();
    h.clock.set(t0() + secs(600));
    assert_eq!(h.p.fire_due_items().await.unwrap(), 0);
    let resumed = h.p.set_scheduler_item_active(&id, true).await.unwrap();
    assert!(resumed.active);
    assert_eq!(resumed.next_call_time, Some(t0() + secs(660)));
    assert_eq!(
        h.p.scheduler_item(&id).await.unwrap().next_call_time,
        Some(t0() + secs(660))
    );
    assert_eq!(
        h.p.fire_due_items().await.unwrap(),
        0,
        "nothing for the paused time"
    );
    h.clock.set(t0() + secs(659));
    assert!(pull(&h.p).await.is_none());
    h.clock.set(t0() + secs(660));
    assert_eq!(h.p.fire_due_items().await.unwrap(), 1);
    assert_eq!(jobs(&h).await.len(), 1);
}

/// R14: changing the rule recomputes the next call time from now.
pub async fn r14_changing_the_rule_recomputes_next_call_time(store: TestStore) {
    let h = Harness::new(store);
    let id =
        h.p.add_scheduler_item(SchedulerItem::delay("echo", 60))
            .await
            .unwrap();
    assert_eq!(
        h.p.scheduler_item(&id).await.unwrap().next_call_time,
        Some(t0() + secs(60))
    );
    h.clock.set(t0() + secs(30));
    let stored = h.p.scheduler_item(&id).await.unwrap();
    let slower =
        h.p.update_scheduler_item(SchedulerItem {
            schedule: Schedule::Delay { delay: 600 },
            ..stored
        })
        .await
        .unwrap();
    assert_eq!(slower.next_call_time, Some(t0() + secs(630)));
    assert_eq!(
        h.p.scheduler_item(&id).await.unwrap().next_call_time,
        Some(t0() + secs(630))
    );
    h.clock.set(t0() + secs(40));
    let stored = h.p.scheduler_item(&id).await.unwrap();
    let hourly =
        h.p.update_scheduler_item(SchedulerItem {
            schedule: Schedule::Cron(CronLists {
                minute: vec![0],
                ..Default::default()
            }),
            ..stored
        })
        .await
        .unwrap();
    assert_eq!(hourly.next_call_time, Some(at("2026-01-01T01:00:00Z")));
    assert_eq!(
        h.p.scheduler_item(&id).await.unwrap().next_call_time,
        Some(at("2026-01-01T01:00:00Z"))
    );
    h.clock.set(t0() + secs(630));
    assert!(pull(&h.p).await.is_none(), "the old rule is gone");
}

/// R15: of several due items the one with the earliest `next_call_time` is taken first,
/// whatever the order they were added in.
pub async fn r15_pull_takes_the_due_item_with_the_earliest_next_call_time(store: TestStore) {
    let h = Harness::new(store);
    let mut by_time = BTreeMap::new();
    for offset in [30, 10, 50, 20, 100] {
        let id =
            h.p.add_scheduler_item(
                SchedulerItem::delay("echo", 3600).with_next_call_time(t0() + secs(offset)),
            )
            .await
            .unwrap();
        by_time.insert(offset, id);
    }
    h.clock.set(t0() + secs(60));
    for offset in [10, 20, 30, 50] {
        assert_eq!(
            pull_id(&h.p).await,
            Some(by_time[&offset].clone()),
            "+{offset}s"
        );
    }
    assert_eq!(pull_id(&h.p).await, None, "+100 s is not due");
    h.clock.set(t0() + secs(100));
    assert_eq!(pull_id(&h.p).await, Some(by_time[&100].clone()));
}

/// R15: a pull sets `locked_until = now + lock_duration` and `next_call_time` to the first
/// occurrence after now; the returned item and the stored one agree.
pub async fn r15_pull_locks_the_item_and_advances_next_call_time(store: TestStore) {
    let h = Harness::new(store);
    let id =
        h.p.add_scheduler_item(
            SchedulerItem::delay("echo", 60)
                .with_lock_duration(Duration::from_secs(30))
                .with_next_call_time(t0()),
        )
        .await
        .unwrap();
    h.clock.set(t0() + secs(5));
    let pulled = pull(&h.p).await.expect("due");
    assert_eq!(pulled.id, id);
    assert_eq!(pulled.locked_until, Some(t0() + secs(35)));
    assert_eq!(pulled.next_call_time, Some(t0() + secs(65)));
    let stored = h.p.scheduler_item(&id).await.unwrap();
    assert_eq!(stored.locked_until, Some(t0() + secs(35)));
    assert_eq!(stored.next_call_time, Some(t0() + secs(65)));
    assert!(pull(&h.p).await.is_none());
}

/// R15: due means `next_call_time <= now` and `locked_until <= now`: both bounds inclusive.
pub async fn r15_due_and_lock_bounds_are_inclusive(store: TestStore) {
    let h = Harness::new(store);
    let id =
        h.p.add_scheduler_item(
            SchedulerItem::delay("echo", 10)
                .with_lock_duration(Duration::from_secs(25))
                .with_next_call_time(t0() + secs(10)),
        )
        .await
        .unwrap();
    h.clock.set(t0() + secs(10) - TimeDelta::milliseconds(1));
    assert!(pull(&h.p).await.is_none());
    h.clock.set(t0() + secs(10));
    assert_eq!(pull_id(&h.p).await, Some(id.clone()));
    // next call +20 s, locked until +35 s
    h.clock.set(t0() + secs(35) - TimeDelta::milliseconds(1));
    assert!(pull(&h.p).await.is_none(), "locked");
    h.clock.set(t0() + secs(35));
    assert_eq!(pull_id(&h.p).await, Some(id));
}

/// R15: a Delay whose occurrences were missed fires once, then waits for the next one.
pub async fn r15_missed_delay_occurrences_fire_once(store: TestStore) {
    let h = Harness::new(store);
    h.p.add_scheduler_item(SchedulerItem::delay("echo", 60).with_next_call_time(t0()))
        .await
        .unwrap();
    h.clock.set(t0() + secs(600) + TimeDelta::milliseconds(500));
    assert_eq!(h.p.fire_due_items().await.unwrap(), 1);
    assert_eq!(h.p.fire_due_items().await.unwrap(), 0);
    let item = h.p.scheduler_items().await.unwrap().remove(0);
    assert_eq!(
        item.next_call_time,
        Some(t0() + secs(660) + TimeDelta::milliseconds(500))
    );
    assert_eq!(jobs(&h).await.len(), 1);
}

/// R15: a quarter-hour Cron missed for two hours fires once and moves to the next quarter.
pub async fn r15_missed_cron_occurrences_fire_once(store: TestStore) {
    let h = Harness::new(store);
    let id =
        h.p.add_scheduler_item(SchedulerItem::cron(
            "echo",
            CronLists {
                minute: vec![0, 15, 30, 45],
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    assert_eq!(
        h.p.scheduler_item(&id).await.unwrap().next_call_time,
        Some(at("2026-01-01T00:15:00Z"))
    );
    h.clock.set(at("2026-01-01T02:20:00Z"));
    assert_eq!(h.p.fire_due_items().await.unwrap(), 1);
    assert_eq!(h.p.fire_due_items().await.unwrap(), 0);
    assert_eq!(
        h.p.scheduler_item(&id).await.unwrap().next_call_time,
        Some(at("2026-01-01T02:30:00Z"))
    );
}

/// R15: an item locked by an earlier pull (locked_until in the future) does not hide another
/// due item, even though its own next call time is earlier.
pub async fn r15_locked_item_does_not_hide_other_due_items(store: TestStore) {
    let h = Harness::new(store);
    let locked =
        h.p.add_scheduler_item(
            SchedulerItem::delay("echo", 10)
                .with_lock_duration(Duration::from_secs(300))
                .with_next_call_time(t0()),
        )
        .await
        .unwrap();
    assert_eq!(pull_id(&h.p).await, Some(locked.clone()));
    let other = h
        .p
        .add_scheduler_item(SchedulerItem::delay("echo", 3600).with_next_call_time(t0() + secs(20)))
        .await
        .unwrap();
    h.clock.set(t0() + secs(30));
    let stored = h.p.scheduler_item(&locked).await.unwrap();
    assert!(
        stored.next_call_time.unwrap() < t0() + secs(20),
        "{stored:?}"
    );
    assert_eq!(pull_id(&h.p).await, Some(other));
    assert_eq!(pull_id(&h.p).await, None, "still locked");
    h.clock.set(t0() + secs(300));
    assert_eq!(pull_id(&h.p).await, Some(locked.clone()));
    assert_eq!(
        h.p.scheduler_item(&locked).await.unwrap().next_call_time,
        Some(t0() + secs(310))
    );
}

/// R15: an inactive item with an earlier next call time does not hide a due one.
pub async fn r15_inactive_item_does_not_hide_other_due_items(store: TestStore) {
    let h = Harness::new(store);
    h.p.add_scheduler_item(
        SchedulerItem::delay("echo", 10)
            .with_active(false)
            .with_next_call_time(t0()),
    )
    .await
    .unwrap();
    let due = h
        .p
        .add_scheduler_item(SchedulerItem::delay("echo", 3600).with_next_call_time(t0() + secs(20)))
        .await
        .unwrap();
    h.clock.set(t0() + secs(30));
    assert_eq!(pull_id(&h.p).await, Some(due));
    assert_eq!(pull_id(&h.p).await, None);
}

/// R15: forty locked or inactive items, all earlier than the one due item, do not hide it.
pub async fn r15_many_locked_and_inactive_items_do_not_hide_a_due_item(store: TestStore) {
    let h = Harness::new(store);
    for n in 0..20 {
        h.p.add_scheduler_item(
            SchedulerItem::delay("echo", 1)
                .with_active(false)
                .with_next_call_time(t0() + TimeDelta::milliseconds(n)),
        )
        .await
        .unwrap();
        h.p.add_scheduler_item(
            SchedulerItem::delay("echo", 1)
                .with_lock_duration(Duration::from_secs(3600))
                .with_next_call_time(t0() + TimeDelta::milliseconds(n)),
        )
        .await
        .unwrap();
    }
    h.clock.set(t0() + TimeDelta::milliseconds(20));
    for _ in 0..20 {
        assert!(pull(&h.p).await.is_some(), "locks the active ones");
    }
    assert!(pull(&h.p).await.is_none());
    let due = h
        .p
        .add_scheduler_item(SchedulerItem::delay("echo", 3600).with_next_call_time(t0() + secs(5)))
        .await
        .unwrap();
    h.clock.set(t0() + secs(10));
    assert_eq!(pull_id(&h.p).await, Some(due));
    assert_eq!(pull_id(&h.p).await, None);
}

/// R15: once `locked_until` passed, a locked item is pulled again only if it is due again.
pub async fn r15_locked_item_is_pulled_again_after_its_lock_only_if_still_due(store: TestStore) {
    let h = Harness::new(store);
    let id =
        h.p.add_scheduler_item(
            SchedulerItem::delay("echo", 600)
                .with_lock_duration(Duration::from_secs(60))
                .with_next_call_time(t0()),
        )
        .await
        .unwrap();
    assert_eq!(pull_id(&h.p).await, Some(id.clone()));
    h.clock.set(t0() + secs(60));
    assert!(pull(&h.p).await.is_none(), "unlocked but not due");
    h.clock.set(t0() + secs(599));
    assert!(pull(&h.p).await.is_none());
    h.clock.set(t0() + secs(600));
    assert_eq!(pull_id(&h.p).await, Some(id));
}

/// R15: a pull that is not followed by a firing (a scheduler that died) keeps the item
/// locked for `lock_duration`; then it is due again.
pub async fn r15_pull_without_firing_keeps_the_lock_for_lock_duration(store: TestStore) {
    let h = Harness::new(store);
    let id =
        h.p.add_scheduler_item(SchedulerItem::delay("echo", 60))
            .await
            .unwrap();
    h.clock.set(t0() + secs(60));
    assert_eq!(pull_id(&h.p).await, Some(id.clone()));
    h.clock.set(t0() + secs(120));
    assert!(pull(&h.p).await.is_none(), "locked for 300 s");
    assert_eq!(h.p.fire_due_items().await.unwrap(), 0);
    h.clock.set(t0() + secs(360));
    assert_eq!(pull_id(&h.p).await, Some(id));
}

/// R15: each occurrence's job is stored under `JobId::for_occurrence` before the item is
/// taken; when a scheduler died between the two, the next one finds the job stored, takes the
/// item and adds no second job, so the occurrence is neither lost nor doubled.
pub async fn r15_an_occurrence_whose_job_a_dead_scheduler_stored_is_not_added_again(
    store: TestStore,
) {
    let h = Harness::new(store);
    let id =
        h.p.add_scheduler_item(SchedulerItem::delay("echo", 60).with_input(json!("tick")))
            .await
            .unwrap();
    h.clock.set(t0() + secs(60));
    let mut stored = Job::queued("echo", json!("tick"), 3, Duration::from_secs(10), t0());
    stored.id = JobId::for_occurrence(&id, t0() + secs(60));
    crate::calls::insert(&*h.jobs, std::slice::from_ref(&stored))
        .await
        .unwrap();

    assert_eq!(
        h.p.fire_due_items().await.unwrap(),
        1,
        "the occurrence fired"
    );
    let item = h.p.scheduler_item(&id).await.unwrap();
    assert_eq!(item.next_call_time, Some(t0() + secs(120)));
    let ids: Vec<JobId> = jobs(&h).await.into_iter().map(|j| j.id).collect();
    assert_eq!(ids, [stored.id.clone()], "no second job for the occurrence");

    h.clock.set(t0() + secs(120));
    assert_eq!(h.p.fire_due_items().await.unwrap(), 1);
    let ids: Vec<JobId> = jobs(&h).await.into_iter().map(|j| j.id).collect();
    assert_eq!(
        ids,
        [stored.id, JobId::for_occurrence(&id, t0() + secs(120))],
        "the next occurrence's job, under its own id"
    );
}

/// Three processors on the store with `echo` registered, sharing the harness clock.
fn three_schedulers(h: &Harness) -> Vec<Processor> {
    (0..3)
        .map(|_| {
            let p = h.processor(&unique_name("scheduler"));
            p.register(echo_factory()).unwrap();
            p
        })
        .collect()
}

/// Adds `items` Delay items due at [`t0`], then for `rounds` rounds has every scheduler call
/// `fire_due_items` at once and checks that each round adds exactly one job per item (R15).
async fn fire_rounds_at_once(h: &Harness, schedulers: &[Processor], items: usize, rounds: usize) {
    for n in 0..items {
        h.p.add_scheduler_item(
            SchedulerItem::delay("echo", 60)
                .with_input(json!(n))
                .with_next_call_time(t0()),
        )
        .await
        .unwrap();
    }
    for round in 0..rounds {
        let tasks: Vec<_> = schedulers
            .iter()
            .cloned()
            .map(|p| tokio::spawn(async move { p.fire_due_items().await.unwrap() }))
            .collect();
        let mut added = 0;
        for task in tasks {
            added += task.await.unwrap();
        }
        assert_eq!(added, items, "round {round}");
        h.advance(Duration::from_secs(60));
    }
    let all = jobs(h).await;
    assert_eq!(all.len(), items * rounds);
    for n in 0..items {
        assert_eq!(
            all.iter().filter(|j| j.input == json!(n)).count(),
            rounds,
            "item {n}"
        );
    }
}

/// R15: three schedulers calling `fire_due_items` at once add exactly one job per item and
/// occurrence, round after round.
pub async fn r15_three_schedulers_firing_at_once_add_one_job_per_occurrence(store: TestStore) {
    let h = Harness::new(store);
    let schedulers = three_schedulers(&h);
    fire_rounds_at_once(&h, &schedulers, 4, 12).await;
}

/// R15, R25: four schedulers on two handles on the same data (as two processes) calling
/// `fire_due_items` at once add exactly one job per item and occurrence, round after round.
pub async fn r15_schedulers_on_two_handles_add_one_job_per_occurrence(store: TestStore) {
    let other = store.another_handle().await;
    let h = Harness::new(store);
    let schedulers: Vec<Processor> = (0..4)
        .map(|i| {
            let p = if i % 2 == 0 {
                h.processor(&unique_name("scheduler"))
            } else {
                h.processor_on(&other, &unique_name("scheduler"))
            };
            p.register(echo_factory()).unwrap();
            p
        })
        .collect();
    fire_rounds_at_once(&h, &schedulers, 6, 8).await;
}

/// R15: three schedulers pulling at once take each item once per occurrence.
pub async fn r15_three_schedulers_pulling_at_once_take_each_occurrence_once(store: TestStore) {
    let h = Harness::new(store);
    let schedulers = three_schedulers(&h);
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(
            h.p.add_scheduler_item(
                SchedulerItem::delay("echo", 30)
                    .with_lock_duration(Duration::from_secs(10))
                    .with_next_call_time(t0()),
            )
            .await
            .unwrap(),
        );
    }
    ids.sort();
    for round in 0..10 {
        let tasks: Vec<_> = schedulers
            .iter()
            .cloned()
            .map(|p| {
                tokio::spawn(async move {
                    let mut taken = Vec::new();
                    while let Some(item) = p.pull_next_scheduler_item().await.unwrap() {
                        taken.push(item.id);
                    }
                    taken
                })
            })
            .collect();
        let mut taken = Vec::new();
        for task in tasks {
            taken.extend(task.await.unwrap());
        }
        taken.sort();
        assert_eq!(taken, ids, "round {round}");
        h.advance(Duration::from_secs(30));
    }
}

/// R15: three running scheduler workers (three processors, one store) add exactly one job
/// per occurrence while the clock moves on.
pub async fn r15_three_scheduler_workers_add_one_job_per_occurrence(store: TestStore) {
    let h = Harness::new(store);
    let schedulers = three_schedulers(&h);
    h.p.add_scheduler_item(SchedulerItem::delay("echo", 60).with_input(json!("a")))
        .await
        .unwrap();
    h.p.add_scheduler_item(SchedulerItem::delay("echo", 120).with_input(json!("b")))
        .await
        .unwrap();
    for p in &schedulers {
        p.start_scheduler();
    }
    let mut expected = 0;
    for minute in 1..=6 {
        h.advance(Duration::from_secs(60));
        expected += if minute % 2 == 0 { 2 } else { 1 };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while jobs(&h).await.len() < expected {
            assert!(
                tokio::time::Instant::now() < deadline,
                "minute {minute}: {} of {expected} jobs",
                jobs(&h).await.len()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(jobs(&h).await.len(), expected, "minute {minute}");
    }
    for p in &schedulers {
        p.stop_scheduler().await;
    }
    let all = jobs(&h).await;
    assert_eq!(all.iter().filter(|j| j.input == json!("a")).count(), 6);
    assert_eq!(all.iter().filter(|j| j.input == json!("b")).count(), 3);
}

/// R16: firing adds `job_name` with the item's input, queued now; the job runs with it.
pub async fn r16_fire_due_items_adds_the_job_with_the_items_input(store: TestStore) {
    let h = Harness::new(store);
    let input = json!({"text": "grüezi 🌍", "nested": {"list": [1, 2.5, null, true]}});
    let id =
        h.p.add_scheduler_item(SchedulerItem::delay("echo", 60).with_input(input.clone()))
            .await
            .unwrap();
    assert_eq!(h.p.fire_due_items().await.unwrap(), 0, "not due yet");
    h.clock.set(t0() + secs(60));
    assert_eq!(h.p.fire_due_items().await.unwrap(), 1);
    let all = jobs(&h).await;
    assert_eq!(all.len(), 1);
    let job = &all[0];
    assert_eq!(job.job_name, "echo");
    assert_eq!(job.input, input);
    assert_eq!(job.status, JobStatus::Queued);
    assert_eq!(job.queued_at, t0() + secs(60));
    let item = h.p.scheduler_item(&id).await.unwrap();
    assert_eq!(item.next_call_time, Some(t0() + secs(120)));
    assert!(h.p.process_next_job().await.unwrap());
    assert_eq!(h.p.job_result(&job.id).await.unwrap(), Some(input));
}

/// R16: one pass fires every due item once; a second pass at the same time fires nothing.
pub async fn r16_fire_due_items_fires_every_due_item_once(store: TestStore) {
    let h = Harness::new(store);
    for n in 0..5 {
        h.p.add_scheduler_item(
            SchedulerItem::delay("echo", 60)
                .with_input(json!(n))
                .with_next_call_time(t0() + secs(n)),
        )
        .await
        .unwrap();
    }
    h.p.add_scheduler_item(SchedulerItem::delay("echo", 60).with_next_call_time(t0() + secs(100)))
        .await
        .unwrap();
    h.clock.set(t0() + secs(10));
    assert_eq!(h.p.fire_due_items().await.unwrap(), 5);
    assert_eq!(h.p.fire_due_items().await.unwrap(), 0);
    let mut inputs: Vec<Value> = jobs(&h).await.into_iter().map(|j| j.input).collect();
    inputs.sort_by_key(|v| v.as_i64());
    assert_eq!(inputs, (0..5).map(|n| json!(n)).collect::<Vec<_>>());
}

/// R16: an item whose job name no factory knows logs an error naming it, adds nothing and
/// stays scheduled with its next occurrence; once the factory exists it fires.
pub async fn r16_unknown_job_name_logs_an_error_and_stays_scheduled(store: TestStore) {
    let h = Harness::new(store);
    let job_name = unique_name("unknown-job");
    let id = h
        .p
        .add_scheduler_item(SchedulerItem::delay(job_name.clone(), 60).with_next_call_time(t0()))
        .await
        .unwrap();
    let errors = Arc::new(Mutex::new(Vec::new()));
    let _watch = watch_logs(job_name.clone(), tracing::Level::ERROR, errors.clone());
    assert_eq!(h.p.fire_due_items().await.unwrap(), 0);
    assert!(jobs(&h).await.is_empty());
    let logged = errors.lock().unwrap().clone();
    assert_eq!(logged.len(), 1, "one error: {logged:?}");
    let item = h.p.scheduler_item(&id).await.unwrap();
    assert!(item.active, "stays scheduled");
    assert_eq!(item.next_call_time, Some(t0() + secs(60)));
    h.clock.set(t0() + secs(60));
    assert_eq!(
        h.p.fire_due_items().await.unwrap(),
        0,
        "tried again next time"
    );
    assert_eq!(errors.lock().unwrap().len(), 2);
    assert_eq!(
        h.p.scheduler_item(&id).await.unwrap().next_call_time,
        Some(t0() + secs(120))
    );
    h.p.register(JobFactory::new(
        job_name.clone(),
        handler_fn(|_ctx: JobContext| async move { Ok::<_, JobError>(Value::Null) }),
    ))
    .unwrap();
    h.clock.set(t0() + secs(120));
    assert_eq!(h.p.fire_due_items().await.unwrap(), 1);
    assert_eq!(jobs(&h).await[0].job_name, job_name);
}

/// R16: the scheduler worker fires due items by itself, once per occurrence, and does
/// nothing after `stop_scheduler`.
pub async fn r16_scheduler_worker_fires_due_items_until_stopped(store: TestStore) {
    let h = Harness::new(store);
    h.p.add_scheduler_item(SchedulerItem::delay("echo", 60).with_input(json!("tick")))
        .await
        .unwrap();
    h.p.start_scheduler();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(jobs(&h).await.is_empty(), "not due yet");
    for n in 1..=3 {
        h.advance(Duration::from_secs(60));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while jobs(&h).await.len() < n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "firing {n} did not happen"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(jobs(&h).await.len(), 3, "one job per occurrence");
    h.p.stop_scheduler().await;
    assert!(!h.p.is_scheduling());
    h.advance(Duration::from_secs(600));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(jobs(&h).await.len(), 3, "a stopped scheduler fires nothing");
    assert!(jobs(&h).await.iter().all(|j| j.input == json!("tick")));
}

/// R16, a decision of this project: the scheduler stores an occurrence's job before it takes
/// the item (so a scheduler dying in between loses nothing) and takes it without a lock
/// (`locked_until`), which only `pull_next_scheduler_item` sets. So an every-minute Cron with the
/// default 300 s `lock_duration` fires every minute (m01.remote's lock would have let it fire only
/// every fifth minute).
pub async fn r16_firing_leaves_no_lock_so_an_every_minute_cron_fires_every_minute(
    store: TestStore,
) {
    let h = Harness::new(store);
    let id =
        h.p.add_scheduler_item(SchedulerItem::cron("echo", every_minute()))
            .await
            .unwrap();
    let item = h.p.scheduler_item(&id).await.unwrap();
    assert_eq!(item.lock_duration, Duration::from_secs(300));
    assert_eq!(item.next_call_time, Some(at("2026-01-01T00:01:00Z")));
    for minute in 1..=6 {
        h.advance(Duration::from_secs(60));
        assert_eq!(h.p.fire_due_items().await.unwrap(), 1, "minute {minute}");
        let item = h.p.scheduler_item(&id).await.unwrap();
        assert_eq!(item.locked_until, None, "no lock after firing");
        assert_eq!(
            item.next_call_time,
            Some(t0() + secs(60 * (minute + 1))),
            "minute {minute}"
        );
    }
    assert_eq!(jobs(&h).await.len(), 6);
}

/// R16, the same decision for Delay: a 60 s Delay with the default 300 s lock fires every
/// 60 s because firing leaves no lock.
pub async fn r16_firing_leaves_no_lock_so_a_delay_fires_every_delay(store: TestStore) {
    let h = Harness::new(store);
    h.p.add_scheduler_item(SchedulerItem::delay("echo", 60))
        .await
        .unwrap();
    for step in 1..=6 {
        h.advance(Duration::from_secs(60));
        assert_eq!(h.p.fire_due_items().await.unwrap(), 1, "step {step}");
    }
    let queued: Vec<DateTime<Utc>> = jobs(&h).await.into_iter().map(|j| j.queued_at).collect();
    assert_eq!(
        queued,
        (1..=6).map(|n| t0() + secs(60 * n)).collect::<Vec<_>>()
    );
}
