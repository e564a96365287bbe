//! R18 list Cron items, driven through the store: the list Cron table of m01.remote's
//! `scheduler.txt` in `docs/contract.md` (one case per row), rejection of bad rules at creation, AND of all lists, and the
//! lowest-value rule for finer empty lists.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use remote_core::{CronLists, Error, ItemId, JobQuery, SchedulerItem};

use crate::support::{at, t0, Harness, TestStore};

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_cron_lists {
    ($make:expr) => {
        $crate::__area!($make; cron_lists {
            r18_doctest_minute_0_10,
            r18_doctest_hour_2_13,
            r18_doctest_month_1_2_5_12,
            r18_doctest_day_of_week_0_2_4_5,
            r18_doctest_day_of_month_2_12_21_30,
            r18_doctest_minute_10_day_of_month_1_10_20_30,
            r18_doctest_minute_10_hour_4_day_of_month_1_12_21_30,
            r18_doctest_minute_0_1_without_next_call_time,
            r18_all_empty_lists_are_rejected,
            r18_out_of_range_minute_is_rejected,
            r18_out_of_range_hour_is_rejected,
            r18_out_of_range_day_of_month_is_rejected,
            r18_out_of_range_month_is_rejected,
            r18_out_of_range_day_of_week_is_rejected,
            r18_impossible_day_and_month_are_rejected,
            r18_invalid_lists_are_rejected_on_update,
            r18_february_29_is_accepted_and_fires_in_leap_years,
            r18_day_of_month_and_day_of_week_are_and_ed,
            r18_every_quarter_hour,
            r18_day_of_week_0_is_monday,
            r18_first_occurrence_is_strictly_after_creation,
            r18_finer_empty_lists_take_their_lowest_value,
            r18_coarser_empty_lists_match_anything,
            r18_rare_rule_is_computed_directly,
            r18_cron_item_adds_jobs_at_its_occurrences,
        });
    };
}

/// The doctest table's start: 1970-01-01T00:03:00Z, a Thursday (weekday 3).
fn doctest_now() -> DateTime<Utc> {
    at("1970-01-01T00:03:00Z")
}

/// A list rule: minute, hour, day_of_month, month, day_of_week.
fn lists(minute: &[u32], hour: &[u32], dom: &[u32], month: &[u32], dow: &[u32]) -> CronLists {
    CronLists {
        minute: minute.to_vec(),
        hour: hour.to_vec(),
        day_of_month: dom.to_vec(),
        month: month.to_vec(),
        day_of_week: dow.to_vec(),
    }
}

fn minutes(n: i64) -> TimeDelta {
    TimeDelta::minutes(n)
}

fn hours(n: i64) -> TimeDelta {
    TimeDelta::hours(n)
}

fn days(n: i64) -> TimeDelta {
    TimeDelta::days(n)
}

/// One call of a table row.
enum Call {
    /// At `now + offset` the item is pulled and its stored next call time becomes `next`.
    Fires(TimeDelta, &'static str),
    /// At `now + offset` nothing is due and the stored next call time stays.
    Quiet(TimeDelta),
}

async fn next_call(h: &Harness, id: &ItemId) -> Option<DateTime<Utc>> {
    h.p.scheduler_item(id).await.unwrap().next_call_time
}

/// Drives one doctest table row: the item is created at the doctest's `now` with
/// `next_call_time = now` (the doctest's lock of 5 s), then each call is made at its time.
async fn doctest_row(store: TestStore, rule: CronLists, calls: &[Call]) {
    let now = doctest_now();
    let h = Harness::at(store, now);
    let id =
        h.p.add_scheduler_item(
            SchedulerItem::cron("bar", rule)
                .with_lock_duration(Duration::from_secs(5))
                .with_next_call_time(now),
        )
        .await
        .unwrap();
    assert_eq!(next_call(&h, &id).await, Some(now));
    for call in calls {
        match call {
            Call::Fires(offset, next) => {
                h.clock.set(now + *offset);
                let pulled =
                    h.p.pull_next_scheduler_item()
                        .await
                        .unwrap()
                        .unwrap_or_else(|| panic!("due at +{offset}"));
                assert_eq!(pulled.id, id);
                assert_eq!(
                    next_call(&h, &id).await,
                    Some(at(next)),
                    "next call after the call at +{offset}"
                );
                assert_eq!(pulled.next_call_time, Some(at(next)));
            }
            Call::Quiet(offset) => {
                let before = next_call(&h, &id).await;
                h.clock.set(now + *offset);
                assert!(
                    h.p.pull_next_scheduler_item().await.unwrap().is_none(),
                    "nothing due at +{offset}"
                );
                assert_eq!(next_call(&h, &id).await, before);
            }
        }
    }
}

/// Doctest table, `minute [0,10]`: +0 → 00:10, then at +51 min → 01:00.
pub async fn r18_doctest_minute_0_10(store: TestStore) {
    use Call::*;
    doctest_row(
        store,
        lists(&[0, 10], &[], &[], &[], &[]),
        &[
            Fires(minutes(0), "1970-01-01T00:10:00Z"),
            Quiet(TimeDelta::seconds(1)),
            Quiet(minutes(2)),
            Fires(minutes(51), "1970-01-01T01:00:00Z"),
            Quiet(minutes(55)),
        ],
    )
    .await;
}

/// Doctest table, `hour [2,13]`: +0 → 02:00, at +2 h → 13:00, at +13 h → 01-02 02:00.
pub async fn r18_doctest_hour_2_13(store: TestStore) {
    use Call::*;
    doctest_row(
        store,
        lists(&[], &[2, 13], &[], &[], &[]),
        &[
            Fires(hours(0), "1970-01-01T02:00:00Z"),
            Fires(hours(2), "1970-01-01T13:00:00Z"),
            Quiet(hours(4)),
            Fires(hours(13), "1970-01-02T02:00:00Z"),
            Quiet(hours(15)),
        ],
    )
    .await;
}

/// Doctest table, `month [1,2,5,12]`: +0 → 02-01, at +90 d → 05-01, at +120 d → 12-01,
/// at +360 d → 1971-01-01 (all at midnight: deliberate difference 4).
pub async fn r18_doctest_month_1_2_5_12(store: TestStore) {
    use Call::*;
    doctest_row(
        store,
        lists(&[], &[], &[], &[1, 2, 5, 12], &[]),
        &[
            Fires(days(0), "1970-02-01T00:00:00Z"),
            Fires(days(90), "1970-05-01T00:00:00Z"),
            Fires(days(120), "1970-12-01T00:00:00Z"),
            Quiet(days(130)),
            Fires(days(360), "1971-01-01T00:00:00Z"),
        ],
    )
    .await;
}

/// Doctest table, `day_of_week [0,2,4,5]` (0 = Monday): +0 → Fri 01-02, at +1 d → Sat 01-03,
/// at +2 d → Mon 01-05, at +4 d → Wed 01-07, at midnight.
pub async fn r18_doctest_day_of_week_0_2_4_5(store: TestStore) {
    use Call::*;
    doctest_row(
        store,
        lists(&[], &[], &[], &[], &[0, 2, 4, 5]),
        &[
            Fires(days(0), "1970-01-02T00:00:00Z"),
            Fires(days(1), "1970-01-03T00:00:00Z"),
            Fires(days(2), "1970-01-05T00:00:00Z"),
            Quiet(days(3)),
            Fires(days(4), "1970-01-07T00:00:00Z"),
        ],
    )
    .await;
}

/// Doctest table, `day_of_month [2,12,21,30]`: +0 → 01-02, at +12 d → 01-21, at +31 d → 02-02.
pub async fn r18_doctest_day_of_month_2_12_21_30(store: TestStore) {
    use Call::*;
    doctest_row(
        store,
        lists(&[], &[], &[2, 12, 21, 30], &[], &[]),
        &[
            Fires(days(0), "1970-01-02T00:00:00Z"),
            Fires(days(12), "1970-01-21T00:00:00Z"),
            Fires(days(31), "1970-02-02T00:00:00Z"),
        ],
    )
    .await;
}

/// Doctest table, `minute [10], day_of_month [1,10,20,30]`: +0 → 00:10, at +10 min → 01:10,
/// at +10 d → 01-20 00:10, at +20 d → 01-30 00:10.
pub async fn r18_doctest_minute_10_day_of_month_1_10_20_30(store: TestStore) {
    use Call::*;
    doctest_row(
        store,
        lists(&[10], &[], &[1, 10, 20, 30], &[], &[]),
        &[
            Fires(minutes(0), "1970-01-01T00:10:00Z"),
            Fires(minutes(10), "1970-01-01T01:10:00Z"),
            Fires(days(10), "1970-01-20T00:10:00Z"),
            Fires(days(20), "1970-01-30T00:10:00Z"),
        ],
    )
    .await;
}

/// Doctest table, `minute [10], hour [4], day_of_month [1,12,21,30]`: +0 → 04:10, at +5 h →
/// 01-12 04:10.
pub async fn r18_doctest_minute_10_hour_4_day_of_month_1_12_21_30(store: TestStore) {
    use Call::*;
    doctest_row(
        store,
        lists(&[10], &[4], &[1, 12, 21, 30], &[], &[]),
        &[
            Fires(minutes(0), "1970-01-01T04:10:00Z"),
            Quiet(minutes(10)),
            Quiet(hours(4)),
            Fires(hours(5), "1970-01-12T04:10:00Z"),
        ],
    )
    .await;
}

/// Doctest table, `minute [0,1]` without next call time, created 2010-10-01 00:00: first call
/// 00:01; at +65 s → 01:00.
pub async fn r18_doctest_minute_0_1_without_next_call_time(store: TestStore) {
    let start = at("2010-10-01T00:00:00Z");
    let h = Harness::at(store, start);
    let id =
        h.p.add_scheduler_item(
            SchedulerItem::cron("bar", lists(&[0, 1], &[], &[], &[], &[]))
                .with_lock_duration(Duration::from_secs(5)),
        )
        .await
        .unwrap();
    assert_eq!(next_call(&h, &id).await, Some(at("2010-10-01T00:01:00Z")));
    assert!(h.p.pull_next_scheduler_item().await.unwrap().is_none());
    h.clock.set(start + TimeDelta::seconds(5));
    assert!(h.p.pull_next_scheduler_item().await.unwrap().is_none());
    assert_eq!(next_call(&h, &id).await, Some(at("2010-10-01T00:01:00Z")));
    h.clock.set(start + TimeDelta::seconds(65));
    let pulled = h.p.pull_next_scheduler_item().await.unwrap().expect("due");
    assert_eq!(pulled.id, id);
    assert_eq!(next_call(&h, &id).await, Some(at("2010-10-01T01:00:00Z")));
    h.clock.set(start + TimeDelta::seconds(125));
    assert!(h.p.pull_next_scheduler_item().await.unwrap().is_none());
    h.clock.set(start + TimeDelta::hours(1));
    assert!(h.p.pull_next_scheduler_item().await.unwrap().is_some());
    assert_eq!(next_call(&h, &id).await, Some(at("2010-10-01T01:01:00Z")));
}

/// Asserts each rule is refused with `Error::InvalidCron` and nothing is stored.
async fn assert_rejected(store: TestStore, rules: Vec<CronLists>) {
    let h = Harness::new(store);
    for rule in rules {
        let result =
            h.p.add_scheduler_item(SchedulerItem::cron("echo", rule.clone()))
                .await;
        assert!(
            matches!(result, Err(Error::InvalidCron(_))),
            "{rule:?} gave {result:?}"
        );
    }
    assert!(h.p.scheduler_items().await.unwrap().is_empty());
}

/// R18: a rule with every list empty is rejected at creation.
pub async fn r18_all_empty_lists_are_rejected(store: TestStore) {
    assert_rejected(store, vec![CronLists::default()]).await;
}

/// R18: a minute outside 0–59 is rejected at creation.
pub async fn r18_out_of_range_minute_is_rejected(store: TestStore) {
    assert_rejected(
        store,
        vec![
            lists(&[60], &[], &[], &[], &[]),
            lists(&[0, 15, 99], &[], &[], &[], &[]),
            lists(&[u32::MAX], &[1], &[], &[], &[]),
        ],
    )
    .await;
}

/// R18: an hour outside 0–23 is rejected at creation.
pub async fn r18_out_of_range_hour_is_rejected(store: TestStore) {
    assert_rejected(
        store,
        vec![
            lists(&[], &[24], &[], &[], &[]),
            lists(&[0], &[2, 25], &[], &[], &[]),
        ],
    )
    .await;
}

/// R18: a day of month outside 1–31 is rejected at creation.
pub async fn r18_out_of_range_day_of_month_is_rejected(store: TestStore) {
    assert_rejected(
        store,
        vec![
            lists(&[], &[], &[0], &[], &[]),
            lists(&[], &[], &[32], &[], &[]),
            lists(&[], &[], &[1, 40], &[], &[]),
        ],
    )
    .await;
}

/// R18: a month outside 1–12 is rejected at creation.
pub async fn r18_out_of_range_month_is_rejected(store: TestStore) {
    assert_rejected(
        store,
        vec![
            lists(&[], &[], &[], &[0], &[]),
            lists(&[], &[], &[], &[13], &[]),
        ],
    )
    .await;
}

/// R18: a day of week outside 0–6 (0 = Monday) is rejected at creation.
pub async fn r18_out_of_range_day_of_week_is_rejected(store: TestStore) {
    assert_rejected(
        store,
        vec![
            lists(&[], &[], &[], &[], &[7]),
            lists(&[], &[], &[], &[], &[0, 6, 8]),
        ],
    )
    .await;
}

/// R18: a rule that can never fire (`day_of_month=[31], month=[2]`, 30 February, the 31st
/// of 30-day months) is rejected at creation.
pub async fn r18_impossible_day_and_month_are_rejected(store: TestStore) {
    assert_rejected(
        store,
        vec![
            lists(&[], &[], &[31], &[2], &[]),
            lists(&[], &[], &[30, 31], &[2], &[]),
            lists(&[0], &[12], &[31], &[4, 6, 9, 11], &[]),
        ],
    )
    .await;
}

/// R18 + R14: updating an item to an invalid list rule is rejected; the item is unchanged.
pub async fn r18_invalid_lists_are_rejected_on_update(store: TestStore) {
    let h = Harness::new(store);
    let id =
        h.p.add_scheduler_item(SchedulerItem::cron("echo", lists(&[5], &[], &[], &[], &[])))
            .await
            .unwrap();
    let stored = h.p.scheduler_item(&id).await.unwrap();
    for bad in [
        lists(&[], &[24], &[], &[], &[]),
        CronLists::default(),
        lists(&[], &[], &[31], &[2], &[]),
    ] {
        let result =
            h.p.update_scheduler_item(SchedulerItem {
                schedule: remote_core::Schedule::Cron(bad),
                ..stored.clone()
            })
            .await;
        assert!(matches!(result, Err(Error::InvalidCron(_))), "{result:?}");
    }
    assert_eq!(h.p.scheduler_item(&id).await.unwrap(), stored);
}

/// R18: 29 February exists in leap years, so the rule is accepted and fires on 2028-02-29,
/// then 2032-02-29.
pub async fn r18_february_29_is_accepted_and_fires_in_leap_years(store: TestStore) {
    let h = Harness::new(store);
    let id =
        h.p.add_scheduler_item(SchedulerItem::cron(
            "echo",
            lists(&[], &[], &[29], &[2], &[]),
        ))
        .await
        .unwrap();
    assert_eq!(next_call(&h, &id).await, Some(at("2028-02-29T00:00:00Z")));
    h.clock.set(at("2028-02-29T00:00:00Z"));
    assert!(h.p.pull_next_scheduler_item().await.unwrap().is_some());
    assert_eq!(next_call(&h, &id).await, Some(at("2032-02-29T00:00:00Z")));
}

/// R18: day_of_month and day_of_week are AND-ed: Friday (4) the 13th fires on 2026-02-13,
/// 2026-03-13 and 2026-11-13 only.
pub async fn r18_day_of_month_and_day_of_week_are_and_ed(store: TestStore) {
    let h = Harness::new(store);
    let id =
        h.p.add_scheduler_item(SchedulerItem::cron(
            "echo",
            lists(&[], &[], &[13], &[], &[4]),
        ))
        .await
        .unwrap();
    let expected = [
        "2026-02-13T00:00:00Z",
        "2026-03-13T00:00:00Z",
        "2026-11-13T00:00:00Z",
        "2027-08-13T00:00:00Z",
    ];
    assert_eq!(next_call(&h, &id).await, Some(at(expected[0])));
    for pair in expected.windows(2) {
        h.clock.set(at(pair[0]));
        assert!(h.p.pull_next_scheduler_item().await.unwrap().is_some());
        assert_eq!(next_call(&h, &id).await, Some(at(pair[1])));
    }
}

/// R18: `minute=[0,15,30,45]` fires every quarter hour.
pub async fn r18_every_quarter_hour(store: TestStore) {
    let h = Harness::new(store);
    let id =
        h.p.add_scheduler_item(SchedulerItem::cron(
            "echo",
            lists(&[0, 15, 30, 45], &[], &[], &[], &[]),
        ))
        .await
        .unwrap();
    let mut expected = t0() + minutes(15);
    assert_eq!(next_call(&h, &id).await, Some(expected));
    for _ in 0..8 {
        h.clock.set(expected);
        assert_eq!(h.p.fire_due_items().await.unwrap(), 1);
        expected += minutes(15);
        assert_eq!(next_call(&h, &id).await, Some(expected));
    }
    assert_eq!(next_call(&h, &id).await, Some(at("2026-01-01T02:15:00Z")));
}

/// R18: day_of_week 0 is Monday and 6 is Sunday (from Thursday 2026-01-01).
pub async fn r18_day_of_week_0_is_monday(store: TestStore) {
    let h = Harness::new(store);
    let monday =
        h.p.add_scheduler_item(SchedulerItem::cron("echo", lists(&[], &[], &[], &[], &[0])))
            .await
            .unwrap();
    let sunday =
        h.p.add_scheduler_item(SchedulerItem::cron("echo", lists(&[], &[], &[], &[], &[6])))
            .await
            .unwrap();
    let thursday =
        h.p.add_scheduler_item(SchedulerItem::cron("echo", lists(&[], &[], &[], &[], &[3])))
            .await
            .unwrap();
    assert_eq!(
        next_call(&h, &monday).await,
        Some(at("2026-01-05T00:00:00Z"))
    );
    assert_eq!(
        next_call(&h, &sunday).await,
        Some(at("2026-01-04T00:00:00Z"))
    );
    assert_eq!(
        next_call(&h, &thursday).await,
        Some(at("2026-01-08T00:00:00Z")),
        "strictly after Thursday 00:00"
    );
}

/// R18: the first occurrence is strictly after the creation time, even when creation falls
/// on an occurrence.
pub async fn r18_first_occurrence_is_strictly_after_creation(store: TestStore) {
    let h = Harness::new(store);
    let hourly =
        h.p.add_scheduler_item(SchedulerItem::cron("echo", lists(&[0], &[], &[], &[], &[])))
            .await
            .unwrap();
    let daily =
        h.p.add_scheduler_item(SchedulerItem::cron("echo", lists(&[], &[0], &[], &[], &[])))
            .await
            .unwrap();
    assert_eq!(
        next_call(&h, &hourly).await,
        Some(at("2026-01-01T01:00:00Z"))
    );
    assert_eq!(
        next_call(&h, &daily).await,
        Some(at("2026-01-02T00:00:00Z"))
    );
    assert!(h.p.pull_next_scheduler_item().await.unwrap().is_none());
}

/// R18: empty lists finer than the finest restricted unit take their lowest value (second
/// 0, minute 0), whatever sub-second time the item was created at.
pub async fn r18_finer_empty_lists_take_their_lowest_value(store: TestStore) {
    let h = Harness::new(store);
    h.clock
        .set(at("2026-01-01T12:34:56Z") + TimeDelta::milliseconds(789));
    let at_five =
        h.p.add_scheduler_item(SchedulerItem::cron("echo", lists(&[], &[5], &[], &[], &[])))
            .await
            .unwrap();
    let in_march =
        h.p.add_scheduler_item(SchedulerItem::cron("echo", lists(&[], &[], &[], &[3], &[])))
            .await
            .unwrap();
    let on_the_20th =
        h.p.add_scheduler_item(SchedulerItem::cron(
            "echo",
            lists(&[], &[], &[20], &[], &[]),
        ))
        .await
        .unwrap();
    let minute_7 =
        h.p.add_scheduler_item(SchedulerItem::cron("echo", lists(&[7], &[], &[], &[], &[])))
            .await
            .unwrap();
    assert_eq!(
        next_call(&h, &at_five).await,
        Some(at("2026-01-02T05:00:00Z"))
    );
    assert_eq!(
        next_call(&h, &in_march).await,
        Some(at("2026-03-01T00:00:00Z"))
    );
    assert_eq!(
        next_call(&h, &on_the_20th).await,
        Some(at("2026-01-20T00:00:00Z"))
    );
    assert_eq!(
        next_call(&h, &minute_7).await,
        Some(at("2026-01-01T13:07:00Z"))
    );
}

/// R18: empty lists for coarser units match anything: `minute=[30]` crosses hour, day,
/// month and year boundaries.
pub async fn r18_coarser_empty_lists_match_anything(store: TestStore) {
    let h = Harness::at(store, at("2026-12-31T23:45:00Z"));
    let id =
        h.p.add_scheduler_item(SchedulerItem::cron(
            "echo",
            lists(&[30], &[], &[], &[], &[]),
        ))
        .await
        .unwrap();
    assert_eq!(next_call(&h, &id).await, Some(at("2027-01-01T00:30:00Z")));
    let noon =
        h.p.add_scheduler_item(SchedulerItem::cron(
            "echo",
            lists(&[0], &[12], &[], &[], &[]),
        ))
        .await
        .unwrap();
    assert_eq!(next_call(&h, &noon).await, Some(at("2027-01-01T12:00:00Z")));
}

/// R18: the computation is direct: a rule firing once in 18 years (29 February on a Monday,
/// 23:59) is found at once, never by a walk over seconds or minutes.
pub async fn r18_rare_rule_is_computed_directly(store: TestStore) {
    let h = Harness::new(store);
    let started = std::time::Instant::now();
    let id =
        h.p.add_scheduler_item(SchedulerItem::cron(
            "echo",
            lists(&[59], &[23], &[29], &[2], &[0]),
        ))
        .await
        .unwrap();
    assert_eq!(next_call(&h, &id).await, Some(at("2044-02-29T23:59:00Z")));
    h.clock.set(at("2044-02-29T23:59:00Z"));
    assert!(h.p.pull_next_scheduler_item().await.unwrap().is_some());
    assert_eq!(next_call(&h, &id).await, Some(at("2072-02-29T23:59:00Z")));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

/// R18 + R16: a Cron item adds one job at each occurrence: `hour=[2,13]` over two days.
pub async fn r18_cron_item_adds_jobs_at_its_occurrences(store: TestStore) {
    let h = Harness::new(store);
    h.p.add_scheduler_item(SchedulerItem::cron(
        "echo",
        lists(&[], &[2, 13], &[], &[], &[]),
    ))
    .await
    .unwrap();
    for _ in 0..(2 * 24 * 4) {
        h.advance(Duration::from_secs(15 * 60));
        h.p.fire_due_items().await.unwrap();
    }
    let mut queued: Vec<DateTime<Utc>> =
        h.p.list_jobs(&JobQuery::default())
            .await
            .unwrap()
            .into_iter()
            .map(|j| j.queued_at)
            .collect();
    queued.sort();
    assert_eq!(
        queued,
        vec![
            at("2026-01-01T02:00:00Z"),
            at("2026-01-01T13:00:00Z"),
            at("2026-01-02T02:00:00Z"),
            at("2026-01-02T13:00:00Z"),
        ]
    );
}
