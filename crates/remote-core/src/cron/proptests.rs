//! Property tests of the Cron engine against brute-force references, with shrinking: random
//! crontab rules in zones with whole-hour, half-hour and 45-minute offsets and daylight-saving
//! changes (north and south, 1 h and 30 min shifts), from instants near their transitions;
//! random list rules from instants on and between minute boundaries.

use std::collections::HashMap;
use std::sync::OnceLock;

use chrono::{DateTime, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;

use crate::cron::crontab_tests::Reference;
use crate::cron::testkit::{reference_next, utc};
use crate::cron::{CronLists, Crontab};

/// Zones with every kind of offset change the engine must handle.
const ZONES: [&str; 9] = [
    "UTC",
    "Europe/Zurich",
    "America/New_York",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Pacific/Chatham",
    "America/St_Johns",
    "Asia/Kolkata",
];

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["sun", "Mon", "TUE", "wed", "thu", "fri", "sat"];

/// Hours at which the zone's offset changed in 2025–2027 (found by an hourly scan).
fn transitions(zone: &str) -> &'static [DateTime<Utc>] {
    static ALL: OnceLock<HashMap<&'static str, Vec<DateTime<Utc>>>> = OnceLock::new();
    let all = ALL.get_or_init(|| {
        ZONES
            .iter()
            .map(|name| {
                let tz: Tz = name.parse().expect("known zone");
                let offset = |t: DateTime<Utc>| tz.offset_from_utc_datetime(&t.naive_utc()).fix();
                let start = utc(2025, 1, 1, 0, 0);
                let changes = (1..3 * 366 * 24)
                    .map(|h| start + TimeDelta::hours(h))
                    .filter(|t| offset(*t) != offset(*t - TimeDelta::hours(1)))
                    .collect();
                (*name, changes)
            })
            .collect()
    });
    all.get(zone).map_or(&[], Vec::as_slice)
}

#[derive(Clone, Debug)]
enum Item {
    Value(u32, bool),
    Range(u32, u32, bool),
    RangeStep(u32, u32, u32),
    From(u32, u32),
}

#[derive(Clone, Debug)]
enum FieldRule {
    Star,
    StarStep(u32),
    Items(Vec<Item>),
}

fn field_rule(min: u32, max: u32, star_percent: u32) -> impl Strategy<Value = FieldRule> {
    let item = prop_oneof![
        (min..=max, any::<bool>()).prop_map(|(v, named)| Item::Value(v, named)),
        (min..=max, min..=max, any::<bool>()).prop_map(|(a, b, named)| Item::Range(
            a.min(b),
            a.max(b),
            named
        )),
        (min..=max, min..=max, 1..=5u32).prop_map(|(a, b, s)| Item::RangeStep(
            a.min(b),
            a.max(b),
            s
        )),
        (min..=max, 1..=5u32).prop_map(|(a, s)| Item::From(a, s)),
    ];
    prop_oneof![
        star_percent / 2 => Just(FieldRule::Star),
        star_percent / 2 => (1..=(max - min) / 2 + 1).prop_map(FieldRule::StarStep),
        100 - star_percent => prop::collection::vec(item, 1..=3).prop_map(FieldRule::Items),
    ]
}

/// The field's text and the set of values it denotes, computed without the parser.
fn render(rule: &FieldRule, min: u32, max: u32, names: &[&str], first: u32) -> (String, Vec<bool>) {
    let mut set = vec![false; max as usize + 1];
    let mut mark = |low: u32, high: u32, step: u32| {
        for v in (low..=high).step_by(step as usize) {
            set[v as usize] = true;
        }
    };
    let text = |v: u32, named: bool| match v.checked_sub(first).and_then(|i| names.get(i as usize))
    {
        Some(name) if named => name.to_string(),
        _ => v.to_string(),
    };
    let rendered = match rule {
        FieldRule::Star => {
            mark(min, max, 1);
            "*".to_string()
        }
        FieldRule::StarStep(step) => {
            mark(min, max, *step);
            format!("*/{step}")
        }
        FieldRule::Items(items) => items
            .iter()
            .map(|item| match *item {
                Item::Value(v, named) => {
                    mark(v, v, 1);
                    text(v, named)
                }
                Item::Range(a, b, named) => {
                    mark(a, b, 1);
                    format!("{}-{}", text(a, named), text(b, named))
                }
                Item::RangeStep(a, b, s) => {
                    mark(a, b, s);
                    format!("{a}-{b}/{s}")
                }
                Item::From(a, s) => {
                    mark(a, max, s);
                    format!("{a}/{s}")
                }
            })
            .collect::<Vec<_>>()
            .join(","),
    };
    (rendered, set)
}

/// Shrunk failures print the expression.
impl std::fmt::Debug for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.expression)
    }
}

fn crontab_rule() -> impl Strategy<Value = Reference> {
    (
        field_rule(0, 59, 40),
        field_rule(0, 23, 50),
        field_rule(1, 31, 70),
        field_rule(1, 12, 80),
        field_rule(0, 7, 70),
    )
        .prop_map(|(minute, hour, dom, month, dow)| {
            let (minute, minutes) = render(&minute, 0, 59, &[], 0);
            let (hour, hours) = render(&hour, 0, 23, &[], 0);
            let (dom, days) = render(&dom, 1, 31, &[], 0);
            let (month, months) = render(&month, 1, 12, &MONTHS, 1);
            let (dow, weekdays) = render(&dow, 0, 7, &WEEKDAYS, 0);
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
        })
}

/// Where a search starts: near one of the zone's offset changes, or anywhere in 2025–2026.
#[derive(Clone, Debug)]
struct Start {
    near_change: bool,
    pick: usize,
    offset_ms: i64,
}

impl Start {
    fn resolve(&self, zone: &str) -> DateTime<Utc> {
        let changes = transitions(zone);
        if self.near_change && !changes.is_empty() {
            changes[self.pick % changes.len()] + TimeDelta::milliseconds(self.offset_ms)
        } else {
            let two_years_ms = 730 * 86_400_000;
            utc(2025, 1, 1, 0, 0) + TimeDelta::milliseconds((self.pick % two_years_ms) as i64)
        }
    }
}

fn start() -> impl Strategy<Value = Start> {
    let day = 86_400_000_i64;
    (
        prop::bool::weighted(0.7),
        any::<usize>(),
        prop_oneof![
            (-day..day),
            (-day / 1000..day / 1000).prop_map(|s| s * 1000),
            (-1440..1440_i64).prop_map(|m| m * 60_000),
        ],
    )
        .prop_map(|(near_change, pick, offset_ms)| Start {
            near_change,
            pick,
            offset_ms,
        })
}

/// Minutes the brute-force walk looks ahead.
const HORIZON_MINUTES: i64 = 2 * 1440;

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    /// R19: `Crontab::next_after` equals a minute-by-minute walk applying the DST rules
    /// literally, for three firings in a row, in zones with every kind of offset change.
    #[test]
    fn crontab_next_after_matches_a_minute_walk_in_any_zone(
        reference in crontab_rule(),
        zone in 0..ZONES.len(),
        start in start(),
    ) {
        let zone = ZONES[zone];
        let rule = match Crontab::parse(&reference.expression, zone) {
            Ok(rule) => rule,
            Err(err) => {
                prop_assert!(!reference.can_fire(), "{} rejected: {err}", reference.expression);
                return Ok(());
            }
        };
        prop_assert!(reference.can_fire(), "{} accepted", reference.expression);
        prop_assert_eq!(rule.is_interval(), reference.interval);
        let mut after = start.resolve(zone);
        for _ in 0..3 {
            let expected = reference.next_after(rule.zone(), after, HORIZON_MINUTES);
            let actual = rule.next_after(after);
            match expected {
                Some(t) => {
                    prop_assert_eq!(actual, Some(t), "{} in {} after {}", reference.expression, zone, after);
                    after = t;
                }
                None => {
                    let limit = after + TimeDelta::minutes(HORIZON_MINUTES);
                    prop_assert!(
                        actual.is_none_or(|t| t >= limit),
                        "{} in {} after {}: {:?} but nothing within the horizon",
                        reference.expression, zone, after, actual
                    );
                    break;
                }
            }
        }
    }

    /// R18: `CronLists::next_after` equals the day-filtered minute walk, from instants on
    /// minute boundaries, between them, and anywhere over a century.
    #[test]
    fn cron_lists_next_after_matches_the_reference(
        minute in lists(0, 59),
        hour in lists(0, 23),
        day_of_month in lists(1, 31),
        month in lists(1, 12),
        day_of_week in lists(0, 6),
        day in 0..36_500_i64,
        minute_of_day in 0..1440_i64,
        sub_minute_ms in prop_oneof![Just(0_i64), 0..60_000_i64],
    ) {
        let rule = CronLists { minute, hour, day_of_month, month, day_of_week };
        let after = utc(1970, 1, 1, 0, 0)
            + TimeDelta::days(day)
            + TimeDelta::minutes(minute_of_day)
            + TimeDelta::milliseconds(sub_minute_ms);
        if rule.validate().is_err() {
            prop_assert_eq!(rule.next_after(after), None);
            return Ok(());
        }
        let horizon = 3 * 366;
        let expected = reference_next(&rule, after, horizon);
        let actual = rule.next_after(after);
        match expected {
            Some(_) => prop_assert_eq!(actual, expected, "{:?} after {}", rule, after),
            None => prop_assert!(
                actual.is_none_or(|t| t >= after + TimeDelta::days(horizon - 1)),
                "{:?} after {}: {:?}", rule, after, actual
            ),
        }
        if let Some(t) = actual {
            prop_assert!(t > after);
            prop_assert_eq!(t.timestamp() % 60, 0);
        }
    }
}

fn lists(min: u32, max: u32) -> impl Strategy<Value = Vec<u32>> {
    prop_oneof![Just(Vec::new()), prop::collection::vec(min..=max, 1..=4),]
}

#[test]
fn every_zone_but_the_fixed_ones_has_offset_changes() {
    for zone in ZONES {
        let fixed = matches!(zone, "UTC" | "Asia/Kolkata");
        assert_eq!(transitions(zone).is_empty(), fixed, "{zone}");
    }
}
