//! R19 crontab items: five-field syntax, Sunday as 0 or 7, the Vixie OR of day fields, time
//! zones, and the daylight-saving rules across the 2026 transitions of Europe/Zurich
//! (2026-03-29 02:00 CET → 03:00 CEST; 2026-10-25 03:00 CEST → 02:00 CET) and
//! America/New_York (2026-03-08 02:00 EST → 03:00 EDT; 2026-11-01 02:00 EDT → 01:00 EST),
//! all driven through `pull_next_scheduler_item` with the manual clock.

use chrono::{DateTime, Utc};
use remote_core::{Error, ItemId, Schedule, SchedulerItem};

use crate::support::{at, Harness, TestStore};

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_crontab {
    ($make:expr) => {
        $crate::__area!($make; crontab {
            r19_item_stores_its_expression_and_zone,
            r19_steps_ranges_and_day_names,
            r19_lists_and_month_names,
            r19_day_of_week_0_and_7_are_sunday,
            r19_day_fields_are_or_ed_when_both_are_restricted,
            r19_a_star_day_field_does_not_widen_the_other,
            r19_default_zone_is_utc,
            r19_evaluated_in_europe_zurich,
            r19_evaluated_in_america_new_york,
            r19_zurich_spring_skipped_time_fires_at_the_first_valid_instant,
            r19_zurich_spring_several_skipped_times_fire_once,
            r19_zurich_spring_interval_rule_keeps_its_rhythm,
            r19_zurich_autumn_fixed_time_fires_once_at_the_first_copy,
            r19_zurich_autumn_interval_rule_fires_in_both_copies,
            r19_zurich_autumn_star_hour_rule_fires_in_both_copies,
            r19_zurich_autumn_step_minute_fixed_hour_fires_in_both_copies,
            r19_new_york_spring_skipped_time_fires_at_the_first_valid_instant,
            r19_new_york_spring_skipped_interval_times_fire_once,
            r19_new_york_autumn_fixed_time_fires_once_at_the_first_copy,
            r19_new_york_autumn_interval_rule_fires_in_both_copies,
            r19_malformed_expressions_are_rejected,
            r19_unknown_time_zones_are_rejected,
            r19_impossible_rules_are_rejected,
        });
    };
}

async fn next_call(h: &Harness, id: &ItemId) -> Option<DateTime<Utc>> {
    h.p.scheduler_item(id).await.unwrap().next_call_time
}

/// Creates a crontab item at `created` (UTC), then checks the chain of firings: the stored
/// next call time after creation is `firings[0]`, and a pull at each firing stores the next.
async fn chain(store: TestStore, expression: &str, zone: &str, created: &str, firings: &[&str]) {
    let h = Harness::at(store, at(created));
    let id =
        h.p.add_scheduler_item(SchedulerItem::crontab("echo", expression, zone))
            .await
            .unwrap_or_else(|e| panic!("{expression:?} in {zone:?}: {e}"));
    assert_eq!(
        next_call(&h, &id).await,
        Some(at(firings[0])),
        "{expression:?} in {zone:?}: first firing after {created}"
    );
    for pair in firings.windows(2) {
        let now = at(pair[0]);
        h.clock.set(now - chrono::TimeDelta::milliseconds(1));
        assert!(
            h.p.pull_next_scheduler_item().await.unwrap().is_none(),
            "{expression:?}: nothing due just before {}",
            pair[0]
        );
        h.clock.set(now);
        let pulled =
            h.p.pull_next_scheduler_item()
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{expression:?}: due at {}", pair[0]));
        assert_eq!(pulled.id, id);
        assert_eq!(
            next_call(&h, &id).await,
            Some(at(pair[1])),
            "{expression:?} in {zone:?}: next after the firing at {}",
            pair[0]
        );
    }
}

/// R19 + R14: a crontab item reads back with its expression and zone as given.
pub async fn r19_item_stores_its_expression_and_zone(store: TestStore) {
    let h = Harness::new(store);
    let id =
        h.p.add_scheduler_item(SchedulerItem::crontab(
            "echo",
            "*/15 9-17 * * mon-fri",
            "Europe/Zurich",
        ))
        .await
        .unwrap();
    assert_eq!(
        h.p.scheduler_item(&id).await.unwrap().schedule,
        Schedule::Crontab {
            expression: "*/15 9-17 * * mon-fri".into(),
            time_zone: "Europe/Zurich".into(),
        }
    );
}

/// R19: `*/15 9-17 * * mon-fri` fires every quarter hour from 09:00 to 17:45 on weekdays.
pub async fn r19_steps_ranges_and_day_names(store: TestStore) {
    chain(
        store,
        "*/15 9-17 * * mon-fri",
        "",
        "2026-01-02T17:50:00Z", // Friday, after the last quarter
        &[
            "2026-01-05T09:00:00Z", // Monday
            "2026-01-05T09:15:00Z",
            "2026-01-05T09:30:00Z",
        ],
    )
    .await;
}

/// R19: lists of days and month names: `0 12 1,15 jan,jul *`.
pub async fn r19_lists_and_month_names(store: TestStore) {
    chain(
        store,
        "0 12 1,15 jan,jul *",
        "",
        "2026-01-01T00:00:00Z",
        &[
            "2026-01-01T12:00:00Z",
            "2026-01-15T12:00:00Z",
            "2026-07-01T12:00:00Z",
            "2026-07-15T12:00:00Z",
            "2027-01-01T12:00:00Z",
        ],
    )
    .await;
}

/// R19: day of week 0, 7 and `sun` are Sunday; 1 is Monday (unlike the list Cron).
pub async fn r19_day_of_week_0_and_7_are_sunday(store: TestStore) {
    let h = Harness::at(store, at("2026-01-01T00:00:00Z")); // Thursday
    for (expression, expected) in [
        ("0 0 * * 0", "2026-01-04T00:00:00Z"),
        ("0 0 * * 7", "2026-01-04T00:00:00Z"),
        ("0 0 * * sun", "2026-01-04T00:00:00Z"),
        ("0 0 * * 1", "2026-01-05T00:00:00Z"),
        ("0 0 * * 6", "2026-01-03T00:00:00Z"),
        ("0 0 * * 5-7", "2026-01-02T00:00:00Z"),
    ] {
        let id =
            h.p.add_scheduler_item(SchedulerItem::crontab("echo", expression, ""))
                .await
                .unwrap();
        assert_eq!(next_call(&h, &id).await, Some(at(expected)), "{expression}");
    }
}

/// R19: with both day fields restricted a day matching either fires (Vixie OR):
/// `0 0 13 * fri` fires on Fridays and on the 13th.
pub async fn r19_day_fields_are_or_ed_when_both_are_restricted(store: TestStore) {
    chain(
        store,
        "0 0 13 * fri",
        "",
        "2026-01-01T00:00:00Z",
        &[
            "2026-01-02T00:00:00Z", // Friday
            "2026-01-09T00:00:00Z", // Friday
            "2026-01-13T00:00:00Z", // Tuesday the 13th
            "2026-01-16T00:00:00Z", // Friday
        ],
    )
    .await;
}

/// R19: with one day field `*` only the other one counts.
pub async fn r19_a_star_day_field_does_not_widen_the_other(store: TestStore) {
    let h = Harness::new(store);
    let thirteenth =
        h.p.add_scheduler_item(SchedulerItem::crontab("echo", "0 0 13 * *", ""))
            .await
            .unwrap();
    let fridays =
        h.p.add_scheduler_item(SchedulerItem::crontab("echo", "0 0 * * fri", ""))
            .await
            .unwrap();
    assert_eq!(
        next_call(&h, &thirteenth).await,
        Some(at("2026-01-13T00:00:00Z"))
    );
    assert_eq!(
        next_call(&h, &fridays).await,
        Some(at("2026-01-02T00:00:00Z"))
    );
    h.clock.set(at("2026-01-13T00:00:00Z"));
    h.p.fire_due_items().await.unwrap();
    assert_eq!(
        next_call(&h, &thirteenth).await,
        Some(at("2026-02-13T00:00:00Z"))
    );
    assert_eq!(
        next_call(&h, &fridays).await,
        Some(at("2026-01-16T00:00:00Z"))
    );
}

/// R19: an empty zone and "UTC" evaluate in UTC.
pub async fn r19_default_zone_is_utc(store: TestStore) {
    let h = Harness::new(store);
    for zone in ["", "UTC"] {
        let id =
            h.p.add_scheduler_item(SchedulerItem::crontab("echo", "0 9 * * *", zone))
                .await
                .unwrap();
        assert_eq!(
            next_call(&h, &id).await,
            Some(at("2026-01-01T09:00:00Z")),
            "{zone:?}"
        );
    }
}

/// R19: `0 9 * * *` in Europe/Zurich is 08:00Z in winter (CET) and 07:00Z in summer (CEST).
pub async fn r19_evaluated_in_europe_zurich(store: TestStore) {
    chain(
        store,
        "0 9 * * *",
        "Europe/Zurich",
        "2026-03-28T00:00:00Z",
        &[
            "2026-03-28T08:00:00Z",
            "2026-03-29T07:00:00Z",
            "2026-03-30T07:00:00Z",
        ],
    )
    .await;
}

/// R19: in America/New_York the rule's local day and hour count: `0 9 * * *` is 14:00Z in
/// winter and 13:00Z in summer; `0 0 * * mon` is Monday 00:00 local (05:00Z).
pub async fn r19_evaluated_in_america_new_york(store: TestStore) {
    let h = Harness::new(store); // 2026-01-01T00:00Z = Wednesday 19:00 EST
    let nine =
        h.p.add_scheduler_item(SchedulerItem::crontab(
            "echo",
            "0 9 * * *",
            "America/New_York",
        ))
        .await
        .unwrap();
    let monday =
        h.p.add_scheduler_item(SchedulerItem::crontab(
            "echo",
            "0 0 * * mon",
            "America/New_York",
        ))
        .await
        .unwrap();
    let new_year =
        h.p.add_scheduler_item(SchedulerItem::crontab(
            "echo",
            "0 0 1 1 *",
            "America/New_York",
        ))
        .await
        .unwrap();
    assert_eq!(next_call(&h, &nine).await, Some(at("2026-01-01T14:00:00Z")));
    assert_eq!(
        next_call(&h, &monday).await,
        Some(at("2026-01-05T05:00:00Z"))
    );
    assert_eq!(
        next_call(&h, &new_year).await,
        Some(at("2026-01-01T05:00:00Z")),
        "New Year in New York is still ahead at 00:00Z"
    );
    h.clock.set(at("2026-07-01T00:00:00Z"));
    h.p.fire_due_items().await.unwrap();
    assert_eq!(next_call(&h, &nine).await, Some(at("2026-07-01T13:00:00Z")));
}

/// R19: in Zurich 02:30 does not exist on 2026-03-29; `30 2 * * *` fires at the first valid
/// instant after it, 03:00 CEST (01:00Z), then 02:30 CEST the next day.
pub async fn r19_zurich_spring_skipped_time_fires_at_the_first_valid_instant(store: TestStore) {
    chain(
        store,
        "30 2 * * *",
        "Europe/Zurich",
        "2026-03-28T00:00:00Z",
        &[
            "2026-03-28T01:30:00Z", // 02:30 CET
            "2026-03-29T01:00:00Z", // skipped → 03:00 CEST
            "2026-03-30T00:30:00Z", // 02:30 CEST
        ],
    )
    .await;
}

/// R19: four skipped times (02:00, 02:15, 02:30, 02:45 on 2026-03-29 in Zurich) fire once,
/// at 03:00 CEST.
pub async fn r19_zurich_spring_several_skipped_times_fire_once(store: TestStore) {
    chain(
        store,
        "0,15,30,45 2 * * *",
        "Europe/Zurich",
        "2026-03-28T23:00:00Z",
        &[
            "2026-03-29T01:00:00Z", // all four skipped → once at 03:00 CEST
            "2026-03-30T00:00:00Z", // 02:00 CEST
            "2026-03-30T00:15:00Z",
        ],
    )
    .await;
}

/// R19: an interval rule (`*/30 * * * *`) in Zurich over the spring gap: 01:30 CET, then
/// 03:00 CEST (the skipped 02:00 and 02:30 fire there once), then 03:30 CEST.
pub async fn r19_zurich_spring_interval_rule_keeps_its_rhythm(store: TestStore) {
    chain(
        store,
        "*/30 * * * *",
        "Europe/Zurich",
        "2026-03-29T00:10:00Z",
        &[
            "2026-03-29T00:30:00Z", // 01:30 CET
            "2026-03-29T01:00:00Z", // 03:00 CEST
            "2026-03-29T01:30:00Z", // 03:30 CEST
        ],
    )
    .await;
}

/// R19: in Zurich 02:30 happens twice on 2026-10-25; the fixed-time `30 2 * * *` fires once,
/// at the first copy (00:30Z, CEST), not at the second (01:30Z).
pub async fn r19_zurich_autumn_fixed_time_fires_once_at_the_first_copy(store: TestStore) {
    chain(
        store,
        "30 2 * * *",
        "Europe/Zurich",
        "2026-10-24T12:00:00Z",
        &[
            "2026-10-25T00:30:00Z", // 02:30 CEST
            "2026-10-26T01:30:00Z", // 02:30 CET, next day
        ],
    )
    .await;
}

/// R19: the interval rule `*/30 * * * *` fires in both copies of Zurich's repeated hour.
pub async fn r19_zurich_autumn_interval_rule_fires_in_both_copies(store: TestStore) {
    chain(
        store,
        "*/30 * * * *",
        "Europe/Zurich",
        "2026-10-24T23:45:00Z", // 01:45 CEST
        &[
            "2026-10-25T00:00:00Z", // 02:00 CEST
            "2026-10-25T00:30:00Z", // 02:30 CEST
            "2026-10-25T01:00:00Z", // 02:00 CET
            "2026-10-25T01:30:00Z", // 02:30 CET
            "2026-10-25T02:00:00Z", // 03:00 CET
        ],
    )
    .await;
}

/// R19: `0 * * * *` (hour `*`) is an interval rule: 02:00 fires in both copies.
pub async fn r19_zurich_autumn_star_hour_rule_fires_in_both_copies(store: TestStore) {
    chain(
        store,
        "0 * * * *",
        "Europe/Zurich",
        "2026-10-24T23:30:00Z",
        &[
            "2026-10-25T00:00:00Z", // 02:00 CEST
            "2026-10-25T01:00:00Z", // 02:00 CET
            "2026-10-25T02:00:00Z", // 03:00 CET
        ],
    )
    .await;
}

/// R19: `*/30 2 * * *` (minute `*/n`) is an interval rule: both copies of 02:00 and 02:30.
pub async fn r19_zurich_autumn_step_minute_fixed_hour_fires_in_both_copies(store: TestStore) {
    chain(
        store,
        "*/30 2 * * *",
        "Europe/Zurich",
        "2026-10-24T12:00:00Z",
        &[
            "2026-10-25T00:00:00Z", // 02:00 CEST
            "2026-10-25T00:30:00Z", // 02:30 CEST
            "2026-10-25T01:00:00Z", // 02:00 CET
            "2026-10-25T01:30:00Z", // 02:30 CET
            "2026-10-26T01:00:00Z", // 02:00 CET, next day
        ],
    )
    .await;
}

/// R19: in New York 02:30 does not exist on 2026-03-08; `30 2 * * *` fires at 03:00 EDT
/// (07:00Z), then 02:30 EDT the next day (06:30Z).
pub async fn r19_new_york_spring_skipped_time_fires_at_the_first_valid_instant(store: TestStore) {
    chain(
        store,
        "30 2 * * *",
        "America/New_York",
        "2026-03-07T12:00:00Z",
        &[
            "2026-03-08T07:00:00Z", // skipped → 03:00 EDT
            "2026-03-09T06:30:00Z", // 02:30 EDT
        ],
    )
    .await;
}

/// R19: the skipped 02:00, 02:20 and 02:40 of `*/20 2 * * *` in New York fire once, at
/// 03:00 EDT.
pub async fn r19_new_york_spring_skipped_interval_times_fire_once(store: TestStore) {
    chain(
        store,
        "*/20 2 * * *",
        "America/New_York",
        "2026-03-08T06:00:00Z", // 01:00 EST
        &[
            "2026-03-08T07:00:00Z", // 03:00 EDT, once
            "2026-03-09T06:00:00Z", // 02:00 EDT
            "2026-03-09T06:20:00Z",
        ],
    )
    .await;
}

/// R19: New York repeats 01:00–01:59 on 2026-11-01; the fixed-time `30 1 * * *` fires once,
/// at 01:30 EDT (05:30Z), then 01:30 EST the next day (06:30Z).
pub async fn r19_new_york_autumn_fixed_time_fires_once_at_the_first_copy(store: TestStore) {
    chain(
        store,
        "30 1 * * *",
        "America/New_York",
        "2026-10-31T12:00:00Z",
        &[
            "2026-11-01T05:30:00Z", // 01:30 EDT
            "2026-11-02T06:30:00Z", // 01:30 EST, next day
        ],
    )
    .await;
}

/// R19: the interval rule `*/30 * * * *` fires in both copies of New York's repeated hour.
pub async fn r19_new_york_autumn_interval_rule_fires_in_both_copies(store: TestStore) {
    chain(
        store,
        "*/30 * * * *",
        "America/New_York",
        "2026-11-01T04:45:00Z", // 00:45 EDT
        &[
            "2026-11-01T05:00:00Z", // 01:00 EDT
            "2026-11-01T05:30:00Z", // 01:30 EDT
            "2026-11-01T06:00:00Z", // 01:00 EST
            "2026-11-01T06:30:00Z", // 01:30 EST
            "2026-11-01T07:00:00Z", // 02:00 EST
        ],
    )
    .await;
}

/// Asserts each (expression, zone) is refused with `Error::InvalidCron`; nothing is stored.
async fn assert_rejected(store: TestStore, rules: &[(&str, &str)]) {
    let h = Harness::new(store);
    for (expression, zone) in rules {
        let result =
            h.p.add_scheduler_item(SchedulerItem::crontab("echo", *expression, *zone))
                .await;
        assert!(
            matches!(result, Err(Error::InvalidCron(_))),
            "{expression:?} in {zone:?} gave {result:?}"
        );
    }
    assert!(h.p.scheduler_items().await.unwrap().is_empty());
}

/// R19 + R14: malformed expressions are a typed error at creation.
pub async fn r19_malformed_expressions_are_rejected(store: TestStore) {
    assert_rejected(
        store,
        &[
            ("", ""),
            ("* * * *", ""),
            ("* * * * * *", ""),
            ("60 * * * *", ""),
            ("* 24 * * *", ""),
            ("* * 0 * *", ""),
            ("* * 32 * *", ""),
            ("* * * 0 *", ""),
            ("* * * 13 *", ""),
            ("* * * * 8", ""),
            ("*/0 * * * *", ""),
            ("abc * * * *", ""),
            ("* * * foo *", ""),
            ("* * * * funday", ""),
            ("1,,2 * * * *", ""),
            ("-1 * * * *", ""),
            ("1-2-3 * * * *", ""),
        ],
    )
    .await;
}

/// R19 + R14: an unknown time zone is a typed error at creation.
pub async fn r19_unknown_time_zones_are_rejected(store: TestStore) {
    assert_rejected(
        store,
        &[
            ("0 9 * * *", "Mars/Olympus_Mons"),
            ("0 9 * * *", "Europe/Atlantis"),
            ("0 9 * * *", "+02:00"),
        ],
    )
    .await;
}

/// R19 + R14: a rule that never fires (`0 0 31 2 *`, 30 February, the 31st of 30-day
/// months) is a typed error at creation; with a restricted day of week the OR makes
/// `0 0 30 2 mon` valid (Mondays in February).
pub async fn r19_impossible_rules_are_rejected(store: TestStore) {
    let h = Harness::new(store);
    for expression in [
        "0 0 31 2 *",
        "0 0 30 2 *",
        "0 0 30,31 feb *",
        "0 0 31 4,6,9,11 *",
    ] {
        let result =
            h.p.add_scheduler_item(SchedulerItem::crontab("echo", expression, "Europe/Zurich"))
                .await;
        assert!(
            matches!(result, Err(Error::InvalidCron(_))),
            "{expression:?} gave {result:?}"
        );
    }
    assert!(h.p.scheduler_items().await.unwrap().is_empty());
    let id =
        h.p.add_scheduler_item(SchedulerItem::crontab("echo", "0 0 30 2 mon", ""))
            .await
            .unwrap();
    assert_eq!(next_call(&h, &id).await, Some(at("2026-02-02T00:00:00Z")));
}
