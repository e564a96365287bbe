//! Tests of crontab parsing and of R19 (crontab rules in a time zone, with DST).

use chrono::{DateTime, Datelike, LocalResult, NaiveDateTime, TimeDelta, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use crate::cron::testkit::{utc, Rng};
use crate::cron::Crontab;

fn tab(expression: &str, zone: &str) -> Crontab {
    Crontab::parse(expression, zone).unwrap_or_else(|e| panic!("{expression:?}: {e}"))
}

/// The next `count` firing instants after `from`.
fn firings(tab: &Crontab, from: DateTime<Utc>, count: usize) -> Vec<DateTime<Utc>> {
    std::iter::successors(tab.next_after(from), |t| tab.next_after(*t))
        .take(count)
        .collect()
}

#[test]
fn r19_skipped_hour_fires_at_first_valid_instant() {
    let zurich = tab("30 2 * * *", "Europe/Zurich");
    assert_eq!(
        firings(&zurich, utc(2026, 3, 28, 12, 0), 2),
        [utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30)]
    );
    let new_york = tab("30 2 * * *", "America/New_York");
    assert_eq!(
        firings(&new_york, utc(2026, 3, 7, 12, 0), 2),
        [utc(2026, 3, 8, 7, 0), utc(2026, 3, 9, 6, 30)]
    );
}

#[test]
fn r19_skipped_occurrences_fire_once() {
    let zurich = tab("*/15 2 * * *", "Europe/Zurich");
    assert_eq!(
        firings(&zurich, utc(2026, 3, 29, 0, 0), 2),
        [utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 0)]
    );
    let new_york = tab("*/15 2 * * *", "America/New_York");
    assert_eq!(
        firings(&new_york, utc(2026, 3, 8, 0, 0), 2),
        [utc(2026, 3, 8, 7, 0), utc(2026, 3, 9, 6, 0)]
    );
}

#[test]
fn r19_interval_rule_across_skipped_hour() {
    let zurich = tab("*/15 * * * *", "Europe/Zurich");
    assert_eq!(
        firings(&zurich, utc(2026, 3, 29, 0, 40), 3),
        [
            utc(2026, 3, 29, 0, 45),
            utc(2026, 3, 29, 1, 0),
            utc(2026, 3, 29, 1, 15)
        ]
    );
    let new_york = tab("*/20 * * * *", "America/New_York");
    assert_eq!(
        firings(&new_york, utc(2026, 3, 8, 6, 30), 3),
        [
            utc(2026, 3, 8, 6, 40),
            utc(2026, 3, 8, 7, 0),
            utc(2026, 3, 8, 7, 20)
        ]
    );
}

#[test]
fn r19_fixed_rule_across_skipped_hour_keeps_its_neighbours() {
    let zurich = tab("15 1-3 * * *", "Europe/Zurich");
    assert_eq!(
        firings(&zurich, utc(2026, 3, 29, 0, 0), 3),
        [
            utc(2026, 3, 29, 0, 15),
            utc(2026, 3, 29, 1, 0),
            utc(2026, 3, 29, 1, 15)
        ]
    );
}

#[test]
fn r19_repeated_hour_fixed_rule_fires_once_at_first_copy() {
    let zurich = tab("30 2 * * *", "Europe/Zurich");
    assert_eq!(
        firings(&zurich, utc(2026, 10, 24, 12, 0), 2),
        [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]
    );
    let new_york = tab("30 1 * * *", "America/New_York");
    assert_eq!(
        firings(&new_york, utc(2026, 10, 31, 12, 0), 2),
        [utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]
    );
    let list = tab("0,30 2 * * *", "Europe/Zurich");
    assert_eq!(
        firings(&list, utc(2026, 10, 24, 12, 0), 3),
        [
            utc(2026, 10, 25, 0, 0),
            utc(2026, 10, 25, 0, 30),
            utc(2026, 10, 26, 1, 0)
        ]
    );
}

#[test]
fn r19_repeated_hour_interval_rule_fires_in_both_copies() {
    let zurich = tab("*/30 * * * *", "Europe/Zurich");
    assert_eq!(
        firings(&zurich, utc(2026, 10, 24, 23, 40), 5),
        [
            utc(2026, 10, 25, 0, 0),
            utc(2026, 10, 25, 0, 30),
            utc(2026, 10, 25, 1, 0),
            utc(2026, 10, 25, 1, 30),
            utc(2026, 10, 25, 2, 0),
        ]
    );
    let new_york = tab("*/30 * * * *", "America/New_York");
    assert_eq!(
        firings(&new_york, utc(2026, 11, 1, 4, 40), 5),
        [
            utc(2026, 11, 1, 5, 0),
            utc(2026, 11, 1, 5, 30),
            utc(2026, 11, 1, 6, 0),
            utc(2026, 11, 1, 6, 30),
            utc(2026, 11, 1, 7, 0),
        ]
    );
    let hourly = tab("0 * * * *", "Europe/Zurich");
    assert_eq!(
        firings(&hourly, utc(2026, 10, 24, 23, 30), 3),
        [
            utc(2026, 10, 25, 0, 0),
            utc(2026, 10, 25, 1, 0),
            utc(2026, 10, 25, 2, 0)
        ]
    );
    let every_minute_of_one_hour = tab("* 1 * * *", "America/New_York");
    assert_eq!(
        firings(&every_minute_of_one_hour, utc(2026, 11, 1, 5, 58), 3),
        [
            utc(2026, 11, 1, 5, 59),
            utc(2026, 11, 1, 6, 0),
            utc(2026, 11, 1, 6, 1)
        ]
    );
    assert_eq!(
        every_minute_of_one_hour.next_after(utc(2026, 11, 1, 6, 59)),
        Some(utc(2026, 11, 2, 6, 0))
    );
}

#[test]
fn r19_next_after_from_inside_a_repeated_hour() {
    let interval = tab("*/30 * * * *", "Europe/Zurich");
    let fixed = tab("30 2 * * *", "Europe/Zurich");
    let cases = [
        (utc(2026, 10, 25, 0, 45), utc(2026, 10, 25, 1, 0)),
        (utc(2026, 10, 25, 1, 0), utc(2026, 10, 25, 1, 30)),
        (utc(2026, 10, 25, 1, 10), utc(2026, 10, 25, 1, 30)),
        (utc(2026, 10, 25, 1, 30), utc(2026, 10, 25, 2, 0)),
    ];
    for (after, expected) in cases {
        assert_eq!(interval.next_after(after), Some(expected), "after {after}");
    }
    let just_before_change = utc(2026, 10, 25, 1, 0) - TimeDelta::nanoseconds(1);
    assert_eq!(
        interval.next_after(just_before_change),
        Some(utc(2026, 10, 25, 1, 0))
    );
    for after in [
        utc(2026, 10, 25, 0, 30),
        utc(2026, 10, 25, 0, 45),
        utc(2026, 10, 25, 1, 10),
    ] {
        assert_eq!(
            fixed.next_after(after),
            Some(utc(2026, 10, 26, 1, 30)),
            "after {after}"
        );
    }
    let new_york_fixed = tab("45 1 * * *", "America/New_York");
    assert_eq!(
        new_york_fixed.next_after(utc(2026, 11, 1, 5, 50)),
        Some(utc(2026, 11, 2, 6, 45))
    );
    let new_york_interval = tab("45 * * * *", "America/New_York");
    assert_eq!(
        new_york_interval.next_after(utc(2026, 11, 1, 5, 50)),
        Some(utc(2026, 11, 1, 6, 45))
    );
}

#[test]
fn r19_names_are_case_insensitive_and_work_in_ranges() {
    let weekday_mornings = tab("0 9 * JAN mon-FRI", "");
    assert_eq!(
        firings(&weekday_mornings, utc(2026, 1, 1, 0, 0), 3),
        [
            utc(2026, 1, 1, 9, 0),
            utc(2026, 1, 2, 9, 0),
            utc(2026, 1, 5, 9, 0)
        ]
    );
    assert_eq!(
        weekday_mornings.next_after(utc(2026, 1, 30, 10, 0)),
        Some(utc(2027, 1, 1, 9, 0))
    );
    assert_eq!(
        tab("0 0 * feb-mar,Dec sun", "").next_after(utc(2026, 4, 1, 0, 0)),
        Some(utc(2026, 12, 6, 0, 0))
    );
}

#[test]
fn r19_steps() {
    let minutes = |expression: &str| -> Vec<u32> {
        firings(
            &tab(expression, ""),
            utc(2026, 1, 1, 0, 0) - TimeDelta::minutes(1),
            60,
        )
        .into_iter()
        .take_while(|t| t.hour() == 0)
        .map(|t| t.minute())
        .collect()
    };
    assert_eq!(minutes("*/20 * * * *"), [0, 20, 40]);
    assert_eq!(minutes("10-50/20 * * * *"), [10, 30, 50]);
    assert_eq!(minutes("5/15 * * * *"), [5, 20, 35, 50]);
    assert_eq!(minutes("*/25,7 * * * *"), [0, 7, 25, 50]);
    assert_eq!(minutes("*/60 * * * *"), [0]);
    let hours: Vec<u32> = firings(&tab("0 1-23/6 * * *", ""), utc(2026, 1, 1, 0, 0), 4)
        .into_iter()
        .map(|t| t.hour())
        .collect();
    assert_eq!(hours, [1, 7, 13, 19]);
    let months: Vec<u32> = firings(&tab("0 0 1 */4 *", ""), utc(2026, 1, 1, 0, 0), 3)
        .into_iter()
        .map(|t| t.month())
        .collect();
    assert_eq!(months, [5, 9, 1]);
}

#[test]
fn r19_ranges_and_lists() {
    assert_eq!(
        firings(&tab("0 9-11 * * *", ""), utc(2026, 1, 1, 0, 0), 4),
        [
            utc(2026, 1, 1, 9, 0),
            utc(2026, 1, 1, 10, 0),
            utc(2026, 1, 1, 11, 0),
            utc(2026, 1, 2, 9, 0)
        ]
    );
    assert_eq!(
        firings(&tab("5,55 23 28-31 * *", ""), utc(2026, 2, 1, 0, 0), 3),
        [
            utc(2026, 2, 28, 23, 5),
            utc(2026, 2, 28, 23, 55),
            utc(2026, 3, 28, 23, 5)
        ]
    );
}

#[test]
fn r19_day_of_month_or_day_of_week_when_both_restricted() {
    let first_or_monday = tab("0 0 1 * mon", "");
    let days: Vec<u32> = firings(&first_or_monday, utc(2026, 3, 1, 0, 0), 7)
        .into_iter()
        .map(|t| t.day())
        .collect();
    assert_eq!(days, [2, 9, 16, 23, 30, 1, 6]);
    let odd_mondays = tab("0 0 */2 * mon", "");
    assert_eq!(
        firings(&odd_mondays, utc(2026, 3, 1, 0, 0), 3),
        [
            utc(2026, 3, 9, 0, 0),
            utc(2026, 3, 23, 0, 0),
            utc(2026, 4, 13, 0, 0)
        ]
    );
    let first_any_weekday = tab("0 0 1 * *", "");
    assert_eq!(
        first_any_weekday.next_after(utc(2026, 3, 1, 0, 0)),
        Some(utc(2026, 4, 1, 0, 0))
    );
    let mondays_any_day = tab("0 0 * * 1", "");
    assert_eq!(
        mondays_any_day.next_after(utc(2026, 3, 1, 0, 0)),
        Some(utc(2026, 3, 2, 0, 0))
    );
    let feb_31_or_monday = tab("0 0 31 2 mon", "");
    assert_eq!(
        feb_31_or_monday.next_after(utc(2026, 3, 1, 0, 0)),
        Some(utc(2027, 2, 1, 0, 0))
    );
}

#[test]
fn r19_seven_and_zero_are_sunday() {
    let from = utc(2026, 3, 2, 0, 0);
    for expression in ["0 0 * * 0", "0 0 * * 7", "0 0 * * sun", "0 0 * * SUN"] {
        assert_eq!(
            tab(expression, "").next_after(from),
            Some(utc(2026, 3, 8, 0, 0))
        );
    }
    let weekend = tab("0 0 * * 5-7", "");
    let days: Vec<u32> = firings(&weekend, from, 4)
        .into_iter()
        .map(|t| t.day())
        .collect();
    assert_eq!(days, [6, 7, 8, 13]);
    assert_eq!(
        tab("0 0 * * 1", "").next_after(from),
        Some(utc(2026, 3, 9, 0, 0))
    );
}

#[test]
fn r19_macros() {
    let from = utc(2026, 3, 4, 10, 30);
    let cases = [
        ("@yearly", utc(2027, 1, 1, 0, 0), false),
        ("@annually", utc(2027, 1, 1, 0, 0), false),
        ("@monthly", utc(2026, 4, 1, 0, 0), false),
        ("@weekly", utc(2026, 3, 8, 0, 0), false),
        ("@daily", utc(2026, 3, 5, 0, 0), false),
        ("@midnight", utc(2026, 3, 5, 0, 0), false),
        ("@hourly", utc(2026, 3, 4, 11, 0), true),
        ("@DAILY", utc(2026, 3, 5, 0, 0), false),
    ];
    for (expression, expected, interval) in cases {
        let rule = tab(expression, "");
        assert_eq!(rule.next_after(from), Some(expected), "{expression}");
        assert_eq!(rule.is_interval(), interval, "{expression}");
        assert_eq!(rule.expression(), expression);
    }
    assert_eq!(
        tab("@daily", "Europe/Zurich").next_after(from),
        Some(utc(2026, 3, 4, 23, 0))
    );
}

#[test]
fn r19_is_interval_follows_minute_and_hour_fields() {
    for (expression, interval) in [
        ("* * * * *", true),
        ("*/5 * * * *", true),
        ("0 * * * *", true),
        ("15 */2 * * *", true),
        ("* 3 * * *", true),
        ("30 2 * * *", false),
        ("0-59 2 * * *", false),
        ("0 0 * * *", false),
        ("0 2 */2 * *", false),
    ] {
        assert_eq!(tab(expression, "").is_interval(), interval, "{expression}");
    }
}

#[test]
fn r19_zone_and_expression_accessors() {
    let rule = tab("30 2 * * *", "Europe/Zurich");
    assert_eq!(rule.zone(), chrono_tz::Europe::Zurich);
    assert_eq!(rule.expression(), "30 2 * * *");
    assert_eq!(tab("30 2 * * *", "").zone(), Tz::UTC);
    assert_eq!(
        tab("0 12 * * *", "America/New_York").next_after(utc(2026, 7, 1, 0, 0)),
        Some(utc(2026, 7, 1, 16, 0))
    );
}

#[test]
fn r19_rejections_name_the_field() {
    let cases = [
        ("* * * *", "", "expected 5 fields"),
        ("* * * * * *", "", "expected 5 fields"),
        ("", "", "expected 5 fields"),
        ("@reboot", "", "unknown macro"),
        ("@daily 5", "", "unknown macro"),
        (
            "60 * * * *",
            "",
            "minute field: value 60 is out of range 0-59",
        ),
        ("* 24 * * *", "", "hour field: value 24"),
        ("* * 0 * *", "", "day-of-month field: value 0"),
        ("* * 32 * *", "", "day-of-month field: value 32"),
        ("* * * 0 *", "", "month field: value 0"),
        ("* * * 13 *", "", "month field: value 13"),
        ("* * * * 8", "", "day-of-week field: value 8"),
        (
            "99999999999 * * * *",
            "",
            "minute field: value 99999999999 is out of range",
        ),
        ("5-1 * * * *", "", "minute field: reversed range"),
        ("* * * * fri-mon", "", "day-of-week field: reversed range"),
        ("*/0 * * * *", "", "minute field: step 0"),
        ("* 1-5/0 * * *", "", "hour field: step 0"),
        ("* * * foo *", "", "month field: unknown name \"foo\""),
        ("* * * mon *", "", "month field: unknown name"),
        ("jan * * * *", "", "minute field: unknown name"),
        ("* * * * sunday", "", "day-of-week field: unknown name"),
        ("1,,2 * * * *", "", "minute field: invalid value \"\""),
        ("1, * * * *", "", "minute field: invalid value"),
        ("1- * * * *", "", "minute field: invalid value \"\""),
        ("a-5 * * * *", "", "minute field: unknown name \"a\""),
        ("-1 * * * *", "", "minute field: invalid value"),
        ("+5 * * * *", "", "minute field: invalid value"),
        ("1-2-3 * * * *", "", "minute field: invalid value"),
        ("*/x * * * *", "", "minute field: invalid step"),
        ("*/+2 * * * *", "", "minute field: invalid step"),
        ("1/2/3 * * * *", "", "minute field: invalid step"),
        ("*/ * * * *", "", "minute field: invalid step"),
        ("\u{663} * * * *", "", "minute field: invalid value"),
        (
            "* * * * * ",
            "Mars/Olympus",
            "unknown time zone \"Mars/Olympus\"",
        ),
        ("* * * * *", "europe/zurich", "unknown time zone"),
        ("0 0 31 2 *", "", "day-of-month field \"31\""),
        ("0 0 30 2 *", "", "day-of-month field \"30\""),
        ("0 0 30,31 feb *", "", "day-of-month field"),
        ("0 0 31 4,6,9,11 *", "", "day-of-month field"),
        ("0 0 31 2 */2", "", "day-of-month field"),
    ];
    for (expression, zone, expected) in cases {
        let err = Crontab::parse(expression, zone).expect_err(expression);
        assert!(
            err.0.contains(expected),
            "{expression:?}: {err:?} should contain {expected:?}"
        );
    }
}

#[test]
fn r19_possible_edge_rules_are_accepted() {
    assert_eq!(
        tab("0 0 29 2 *", "").next_after(utc(2026, 1, 1, 0, 0)),
        Some(utc(2028, 2, 29, 0, 0))
    );
    assert_eq!(
        tab("0 0 29 2 mon", "").next_after(utc(2026, 1, 1, 0, 0)),
        Some(utc(2026, 2, 2, 0, 0))
    );
    assert_eq!(
        tab("0 0 29 2 */7", "").next_after(utc(2026, 1, 1, 0, 0)),
        Some(utc(2032, 2, 29, 0, 0))
    );
    assert_eq!(
        tab(" 0  0\t1 1 * ", "").next_after(utc(2026, 1, 1, 0, 0)),
        Some(utc(2027, 1, 1, 0, 0))
    );
}

#[test]
fn r19_extreme_instants_do_not_panic() {
    for zone in [
        "",
        "Europe/Zurich",
        "America/New_York",
        "Pacific/Kiritimati",
        "Etc/GMT+12",
    ] {
        for expression in ["* * * * *", "30 2 * * *", "0 0 29 2 mon"] {
            let rule = tab(expression, zone);
            assert_eq!(rule.next_after(DateTime::<Utc>::MAX_UTC), None);
            let _ = rule.next_after(DateTime::<Utc>::MIN_UTC);
        }
    }
}

/// An expected rule built by the generator independently of the parser.
pub(super) struct Reference {
    pub(super) expression: String,
    pub(super) minutes: Vec<bool>,
    pub(super) hours: Vec<bool>,
    pub(super) days: Vec<bool>,
    pub(super) months: Vec<bool>,
    /// Indexed 0..=7 with both 0 and 7 meaning Sunday.
    pub(super) weekdays: Vec<bool>,
    pub(super) either: bool,
    pub(super) interval: bool,
}

impl Reference {
    fn matches(&self, t: NaiveDateTime) -> bool {
        let weekday = t.weekday().num_days_from_sunday() as usize;
        let dom = self.days[t.day() as usize];
        let dow = self.weekdays[weekday] || (weekday == 0 && self.weekdays[7]);
        let day = if self.either { dom || dow } else { dom && dow };
        self.minutes[t.minute() as usize]
            && self.hours[t.hour() as usize]
            && self.months[t.month() as usize]
            && day
    }

    pub(super) fn can_fire(&self) -> bool {
        let lengths = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        self.either || (1..=12).any(|m| self.months[m] && (1..=lengths[m]).any(|d| self.days[d]))
    }

    /// Minute-by-minute walk over instants applying the R19 rules literally.
    pub(super) fn next_after(
        &self,
        zone: Tz,
        after: DateTime<Utc>,
        horizon: i64,
    ) -> Option<DateTime<Utc>> {
        let first = after.with_second(0)?.with_nanosecond(0)? + TimeDelta::minutes(1);
        let local = |x: DateTime<Utc>| x.with_timezone(&zone).naive_local();
        let mut previous = local(first - TimeDelta::minutes(1));
        for i in 0..horizon {
            let x = first + TimeDelta::minutes(i);
            let now = local(x);
            let skipped =
                std::iter::successors(Some(previous), |n| Some(*n + TimeDelta::minutes(1)))
                    .skip(1)
                    .take_while(|n| *n < now)
                    .any(|n| self.matches(n));
            let second_copy =
                matches!(zone.from_local_datetime(&now), LocalResult::Ambiguous(_, b) if b == x);
            if skipped || (self.matches(now) && (self.interval || !second_copy)) {
                return Some(x);
            }
            previous = now;
        }
        None
    }
}

fn value_text(rng: &mut Rng, value: u32, names: &[&str], first_named: u32) -> String {
    match value
        .checked_sub(first_named)
        .and_then(|i| names.get(i as usize))
    {
        Some(name) if rng.chance(40) => name.to_string(),
        _ => value.to_string(),
    }
}

/// A random field text and the set it denotes, over `min..=max`.
fn random_field(
    rng: &mut Rng,
    (min, max): (u32, u32),
    star_percent: u32,
    names: &[&str],
    first_named: u32,
) -> (String, Vec<bool>) {
    let mut set = vec![false; max as usize + 1];
    let mut mark = |low: u32, high: u32, step: u32| {
        for v in (low..=high).step_by(step as usize) {
            set[v as usize] = true;
        }
    };
    let text = if rng.chance(star_percent) {
        if rng.chance(50) {
            mark(min, max, 1);
            "*".to_string()
        } else {
            let step = rng.range(1, (max - min) / 2 + 1);
            mark(min, max, step);
            format!("*/{step}")
        }
    } else {
        let items = rng.range(1, 3);
        let texts: Vec<String> = (0..items)
            .map(|_| {
                let low = rng.range(min, max);
                let high = rng.range(low, max);
                let step = rng.range(1, 5);
                let low_text = value_text(rng, low, names, first_named);
                let high_text = value_text(rng, high, names, first_named);
                match rng.range(0, 3) {
                    0 => {
                        mark(low, low, 1);
                        low_text
                    }
                    1 => {
                        mark(low, high, 1);
                        format!("{low_text}-{high_text}")
                    }
                    2 => {
                        mark(low, high, step);
                        format!("{low_text}-{high_text}/{step}")
                    }
                    _ => {
                        mark(low, max, step);
                        format!("{low}/{step}")
                    }
                }
            })
            .collect();
        texts.join(",")
    };
    (text, set)
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

fn random_rule(rng: &mut Rng) -> Reference {
    let (minute, minutes) = random_field(rng, (0, 59), 35, &[], 0);
    let (hour, hours) = random_field(rng, (0, 23), 45, &[], 0);
    let (dom, days) = random_field(rng, (1, 31), 65, &[], 0);
    let (month, months) = random_field(rng, (1, 12), 75, &MONTHS, 1);
    let (dow, weekdays) = random_field(rng, (0, 7), 60, &WEEKDAYS, 0);
    Reference {
        expression: format!("{minute} {hour} {dom} {month} {dow}"),
        either: !dom.starts_with('*') && !dow.starts_with('*'),
        interval: minute.starts_with('*') || hour.starts_with('*'),
        minutes,
        hours,
        days,
        months,
        weekdays,
    }
}

/// Compares `next_after` with the reference for `cases` rules, each from a start drawn by `start`.
fn compare_with_reference(
    seed: u64,
    zone: &str,
    cases: usize,
    horizon: i64,
    start: impl Fn(&mut Rng) -> DateTime<Utc>,
) {
    let mut rng = Rng::new(seed);
    let mut checked = 0;
    let mut fired = 0;
    while checked < cases {
        let reference = random_rule(&mut rng);
        let rule = match Crontab::parse(&reference.expression, zone) {
            Ok(rule) => rule,
            Err(err) => {
                assert!(!reference.can_fire(), "{}: {err}", reference.expression);
                continue;
            }
        };
        assert_eq!(
            rule.is_interval(),
            reference.interval,
            "{}",
            reference.expression
        );
        let mut after = start(&mut rng);
        for _ in 0..3 {
            let expected = reference.next_after(rule.zone(), after, horizon);
            let actual = rule.next_after(after);
            let context = format!("{:?} in {zone:?} after {after}", reference.expression);
            match expected {
                Some(t) => {
                    assert_eq!(actual, Some(t), "{context}");
                    fired += 1;
                    after = t;
                }
                None => {
                    let limit = after + TimeDelta::minutes(horizon);
                    assert!(actual.is_none_or(|t| t >= limit), "{context}: {actual:?}");
                    break;
                }
            }
        }
        checked += 1;
    }
    assert!(fired > cases, "too few firings compared: {fired}");
}

fn instant_in(rng: &mut Rng, from: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    from + TimeDelta::seconds(i64::from(rng.range(0, days * 86_400 - 1)))
        + TimeDelta::milliseconds(i64::from(rng.range(0, 999)))
}

#[test]
fn r19_next_after_agrees_with_brute_force_in_utc() {
    compare_with_reference(0xC0FFEE, "", 300, 6 * 1440, |rng| {
        instant_in(rng, utc(1971, 1, 1, 0, 0), 365 * 120)
    });
}

#[test]
fn r19_next_after_agrees_with_brute_force_away_from_dst_days() {
    for (seed, zone) in [(1, "Europe/Zurich"), (2, "America/New_York")] {
        compare_with_reference(seed, zone, 150, 4 * 1440, |rng| {
            if rng.chance(50) {
                instant_in(rng, utc(2026, 4, 10, 0, 0), 185)
            } else {
                instant_in(rng, utc(2026, 11, 10, 0, 0), 105)
            }
        });
    }
}

#[test]
fn r19_next_after_agrees_with_brute_force_around_dst_days() {
    let transitions = [
        ("Europe/Zurich", utc(2026, 3, 29, 1, 0)),
        ("Europe/Zurich", utc(2026, 10, 25, 1, 0)),
        ("America/New_York", utc(2026, 3, 8, 7, 0)),
        ("America/New_York", utc(2026, 11, 1, 6, 0)),
    ];
    for (seed, (zone, change)) in (10..).zip(transitions) {
        compare_with_reference(seed, zone, 80, 3 * 1440, |rng| {
            instant_in(rng, change - TimeDelta::hours(30), 2)
        });
    }
}
