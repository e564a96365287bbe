//! m01.remote's list rule: one list of allowed values per calendar unit, evaluated in UTC.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::cron::fields::{next_minute, span, DayRule, Fields};
use crate::cron::CronError;

/// The list Cron of m01.remote: each list restricts one calendar unit; empty means "see the rules".
/// An empty list finer than the finest restricted unit means its lowest value, any other empty list means any value.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CronLists {
    /// Allowed minutes, 0-59.
    pub minute: Vec<u32>,
    /// Allowed hours, 0-23.
    pub hour: Vec<u32>,
    /// Allowed days of the month, 1-31; AND-ed with `day_of_week`.
    pub day_of_month: Vec<u32>,
    /// Allowed months, 1-12.
    pub month: Vec<u32>,
    /// Allowed weekdays, 0 = Monday … 6 = Sunday (Python's `weekday()`).
    pub day_of_week: Vec<u32>,
}

fn bits(list: &[u32]) -> u64 {
    list.iter().fold(0, |bits, v| bits | 1 << v)
}

impl CronLists {
    /// Rejects a rule with every list empty, a value out of range, or no existing
    /// (month, day) pair; `next_after` answers None for any rule rejected here.
    pub fn validate(&self) -> Result<(), CronError> {
        self.fields().map(|_| ())
    }

    /// First instant strictly after `after` matching the rule (UTC), None if it never fires.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let fields = self.fields().ok()?;
        let from = next_minute(after.naive_utc())?;
        fields.next_match(from).map(|t| t.and_utc())
    }

    fn fields(&self) -> Result<Fields, CronError> {
        let units: [(&str, &[u32], u32, u32); 5] = [
            ("minute", &self.minute, 0, 59),
            ("hour", &self.hour, 0, 23),
            ("day_of_month", &self.day_of_month, 1, 31),
            ("month", &self.month, 1, 12),
            ("day_of_week", &self.day_of_week, 0, 6),
        ];
        if units.iter().all(|(_, list, _, _)| list.is_empty()) {
            return Err(CronError(
                "every list is empty: set at least one of minute, hour, day_of_month, month, day_of_week".into(),
            ));
        }
        for (name, list, min, max) in units {
            if let Some(value) = list.iter().find(|v| !(min..=max).contains(*v)) {
                return Err(CronError(format!(
                    "{name}: {value} is out of range {min}-{max}"
                )));
            }
        }
        let restricted = [
            !self.minute.is_empty(),
            !self.hour.is_empty(),
            !self.day_of_month.is_empty() || !self.day_of_week.is_empty(),
            !self.month.is_empty(),
        ];
        let finest = restricted.iter().position(|r| *r).unwrap_or(3);
        let allowed = |unit: usize, list: &[u32], min: u32, max: u32| match list {
            [] if unit < finest => 1 << min,
            [] => span(min, max),
            _ => bits(list),
        };
        let fields = Fields {
            minutes: allowed(0, &self.minute, 0, 59),
            hours: allowed(1, &self.hour, 0, 23),
            days: allowed(2, &self.day_of_month, 1, 31),
            months: allowed(3, &self.month, 1, 12),
            weekdays: match self.day_of_week.as_slice() {
                [] => span(0, 6),
                list => bits(list),
            },
            day_rule: DayRule::Both,
        };
        if !fields.can_fire() {
            return Err(CronError(format!(
                "day_of_month {:?} has no day that exists in month {:?}",
                self.day_of_month, self.month
            )));
        }
        Ok(fields)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeDelta};

    use super::*;
    use crate::cron::testkit::{reference_next, utc, Rng};

    fn now() -> DateTime<Utc> {
        utc(1970, 1, 1, 0, 3)
    }

    fn lists(minute: &[u32], hour: &[u32], dom: &[u32], month: &[u32], dow: &[u32]) -> CronLists {
        CronLists {
            minute: minute.to_vec(),
            hour: hour.to_vec(),
            day_of_month: dom.to_vec(),
            month: month.to_vec(),
            day_of_week: dow.to_vec(),
        }
    }

    fn check(rule: &CronLists, cases: &[(TimeDelta, DateTime<Utc>)]) {
        rule.validate().expect("valid rule");
        for (offset, expected) in cases {
            assert_eq!(
                rule.next_after(now() + *offset),
                Some(*expected),
                "{rule:?} after now + {offset}"
            );
        }
    }

    fn min(n: i64) -> TimeDelta {
        TimeDelta::minutes(n)
    }

    fn hours(n: i64) -> TimeDelta {
        TimeDelta::hours(n)
    }

    fn days(n: i64) -> TimeDelta {
        TimeDelta::days(n)
    }

    #[test]
    fn seed_minutes() {
        let rule = lists(&[0, 10], &[], &[], &[], &[]);
        check(
            &rule,
            &[
                (min(0), utc(1970, 1, 1, 0, 10)),
                (min(51), utc(1970, 1, 1, 1, 0)),
            ],
        );
    }

    #[test]
    fn seed_quarter_hours() {
        let rule = lists(&[0, 15, 30, 45], &[], &[], &[], &[]);
        check(
            &rule,
            &[
                (min(0), utc(1970, 1, 1, 0, 15)),
                (min(41), utc(1970, 1, 1, 0, 45)),
                (min(42), utc(1970, 1, 1, 1, 0)),
            ],
        );
    }

    #[test]
    fn seed_hours() {
        let rule = lists(&[], &[2, 13], &[], &[], &[]);
        check(
            &rule,
            &[
                (min(0), utc(1970, 1, 1, 2, 0)),
                (hours(2), utc(1970, 1, 1, 13, 0)),
                (hours(13), utc(1970, 1, 2, 2, 0)),
            ],
        );
    }

    #[test]
    fn seed_months() {
        let rule = lists(&[], &[], &[], &[1, 2, 5, 12], &[]);
        check(
            &rule,
            &[
                (min(0), utc(1970, 2, 1, 0, 0)),
                (days(90), utc(1970, 5, 1, 0, 0)),
                (days(120), utc(1970, 12, 1, 0, 0)),
                (days(360), utc(1971, 1, 1, 0, 0)),
            ],
        );
    }

    #[test]
    fn seed_days_of_week() {
        let rule = lists(&[], &[], &[], &[], &[0, 2, 4, 5]);
        check(
            &rule,
            &[
                (min(0), utc(1970, 1, 2, 0, 0)),
                (days(1), utc(1970, 1, 3, 0, 0)),
                (days(2), utc(1970, 1, 5, 0, 0)),
                (days(4), utc(1970, 1, 7, 0, 0)),
            ],
        );
    }

    #[test]
    fn seed_days_of_month() {
        let rule = lists(&[], &[], &[2, 12, 21, 30], &[], &[]);
        check(
            &rule,
            &[
                (min(0), utc(1970, 1, 2, 0, 0)),
                (days(12), utc(1970, 1, 21, 0, 0)),
                (days(31), utc(1970, 2, 2, 0, 0)),
            ],
        );
    }

    #[test]
    fn seed_minute_with_days_of_month_leaves_hour_free() {
        let rule = lists(&[10], &[], &[1, 10, 20, 30], &[], &[]);
        check(
            &rule,
            &[
                (min(0), utc(1970, 1, 1, 0, 10)),
                (min(10), utc(1970, 1, 1, 1, 10)),
                (days(10), utc(1970, 1, 20, 0, 10)),
                (days(20), utc(1970, 1, 30, 0, 10)),
            ],
        );
    }

    #[test]
    fn seed_minute_hour_and_days_of_month() {
        let rule = lists(&[10], &[4], &[1, 12, 21, 30], &[], &[]);
        check(
            &rule,
            &[
                (min(0), utc(1970, 1, 1, 4, 10)),
                (hours(5), utc(1970, 1, 12, 4, 10)),
            ],
        );
    }

    #[test]
    fn seed_consecutive_minutes_from_2010() {
        let rule = lists(&[0, 1], &[], &[], &[], &[]);
        let start = utc(2010, 10, 1, 0, 0);
        assert_eq!(rule.next_after(start), Some(utc(2010, 10, 1, 0, 1)));
        let later = start + TimeDelta::seconds(65);
        assert_eq!(rule.next_after(later), Some(utc(2010, 10, 1, 1, 0)));
    }

    #[test]
    fn sub_second_input_yields_whole_minute_strictly_after() {
        let rule = lists(&[0, 1], &[], &[], &[], &[]);
        let start = utc(2010, 10, 1, 0, 0) + TimeDelta::nanoseconds(1);
        assert_eq!(rule.next_after(start), Some(utc(2010, 10, 1, 0, 1)));
        let before = utc(2010, 10, 1, 0, 1) - TimeDelta::milliseconds(1);
        assert_eq!(rule.next_after(before), Some(utc(2010, 10, 1, 0, 1)));
    }

    #[test]
    fn day_of_month_and_day_of_week_are_anded() {
        let friday_the_13th = lists(&[], &[], &[13], &[], &[4]);
        let next = friday_the_13th.next_after(now());
        assert_eq!(next, Some(utc(1970, 2, 13, 0, 0)));
        assert_eq!(
            friday_the_13th.next_after(utc(1970, 2, 13, 0, 0)),
            Some(utc(1970, 3, 13, 0, 0))
        );
    }

    #[test]
    fn leap_day_rule_is_valid_and_fires_in_leap_years() {
        let rule = lists(&[], &[], &[29], &[2], &[]);
        assert_eq!(rule.validate(), Ok(()));
        assert_eq!(rule.next_after(now()), Some(utc(1972, 2, 29, 0, 0)));
        let monday_leap_day = lists(&[], &[], &[29], &[2], &[0]);
        assert_eq!(
            monday_leap_day.next_after(now()),
            Some(utc(1988, 2, 29, 0, 0))
        );
    }

    #[test]
    fn validate_rejects_all_empty() {
        let err = CronLists::default().validate().expect_err("empty rule");
        assert!(err.0.contains("every list is empty"), "{err}");
        assert_eq!(CronLists::default().next_after(now()), None);
    }

    #[test]
    fn validate_rejects_out_of_range_values_naming_field_and_value() {
        let cases = [
            (lists(&[60], &[], &[], &[], &[]), "minute: 60"),
            (lists(&[], &[24], &[], &[], &[]), "hour: 24"),
            (lists(&[], &[], &[0], &[], &[]), "day_of_month: 0"),
            (lists(&[], &[], &[32], &[], &[]), "day_of_month: 32"),
            (lists(&[], &[], &[], &[13], &[]), "month: 13"),
            (lists(&[], &[], &[], &[0], &[]), "month: 0"),
            (lists(&[], &[], &[], &[], &[7]), "day_of_week: 7"),
            (
                lists(&[0], &[], &[], &[], &[u32::MAX]),
                "day_of_week: 4294967295",
            ),
        ];
        for (rule, expected) in cases {
            let err = rule.validate().expect_err("out of range");
            assert!(err.0.starts_with(expected), "{err} vs {expected}");
            assert_eq!(rule.next_after(now()), None);
        }
    }

    #[test]
    fn validate_rejects_days_missing_from_every_allowed_month() {
        for rule in [
            lists(&[], &[], &[31], &[2], &[]),
            lists(&[], &[], &[30, 31], &[2], &[]),
            lists(&[], &[], &[31], &[4, 6, 9, 11], &[0]),
        ] {
            let err = rule.validate().expect_err("impossible");
            assert!(err.0.contains("day_of_month"), "{err}");
            assert_eq!(rule.next_after(now()), None);
        }
        let april_30 = lists(&[], &[], &[30, 31], &[2, 4], &[]);
        assert_eq!(april_30.validate(), Ok(()));
        assert_eq!(april_30.next_after(now()), Some(utc(1970, 4, 30, 0, 0)));
    }

    #[test]
    fn far_future_input_returns_none_instead_of_panicking() {
        let rule = lists(&[0], &[], &[], &[], &[]);
        assert_eq!(rule.next_after(DateTime::<Utc>::MAX_UTC), None);
        assert!(rule.next_after(DateTime::<Utc>::MIN_UTC).is_some());
    }

    #[test]
    fn serde_round_trip_and_missing_lists_default_to_empty() {
        let rule = lists(&[5], &[], &[1], &[], &[6]);
        let json = serde_json::to_string(&rule).expect("serialize");
        assert_eq!(serde_json::from_str::<CronLists>(&json).ok(), Some(rule));
        let partial: CronLists = serde_json::from_str(r#"{"hour":[3]}"#).expect("deserialize");
        assert_eq!(partial, lists(&[], &[3], &[], &[], &[]));
    }

    fn random_list(rng: &mut Rng, min: u32, max: u32) -> Vec<u32> {
        if rng.chance(50) {
            Vec::new()
        } else {
            rng.values(min, max, 4)
        }
    }

    #[test]
    fn next_after_agrees_with_brute_force_reference() {
        let mut rng = Rng::new(0x5EED_0001);
        let mut checked = 0;
        while checked < 300 {
            let rule = CronLists {
                minute: random_list(&mut rng, 0, 59),
                hour: random_list(&mut rng, 0, 23),
                day_of_month: random_list(&mut rng, 1, 31),
                month: random_list(&mut rng, 1, 12),
                day_of_week: random_list(&mut rng, 0, 6),
            };
            if rule.validate().is_err() {
                continue;
            }
            let day = NaiveDate::from_ymd_opt(1990, 1, 1).expect("date")
                + TimeDelta::days(i64::from(rng.range(0, 20_000)));
            let after = day
                .and_hms_opt(rng.range(0, 23), rng.range(0, 59), rng.range(0, 59))
                .expect("time")
                .and_utc();
            let horizon = 3 * 366;
            let expected = reference_next(&rule, after, horizon);
            let actual = rule.next_after(after);
            match expected {
                Some(_) => assert_eq!(actual, expected, "{rule:?} after {after}"),
                None => assert!(
                    actual.is_none_or(|t| t >= after + TimeDelta::days(horizon - 1)),
                    "{rule:?} after {after}: {actual:?}"
                ),
            }
            checked += 1;
        }
    }
}
