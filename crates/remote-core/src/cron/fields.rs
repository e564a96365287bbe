//! The one search engine: allowed values per calendar field, and the next naive
//! date-time that matches them, found field by field (month, day, hour, minute).

use chrono::{Datelike, NaiveDate, NaiveDateTime, TimeDelta, Timelike};

/// How many years ahead a search looks; a full 400-year Gregorian cycle holds every
/// (month, day, weekday) combination that can ever occur.
const SEARCH_YEARS: i32 = 401;

/// How the day-of-month and day-of-week sets combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DayRule {
    /// A day must be in both sets.
    Both,
    /// A day must be in at least one set (Vixie cron when both fields are restricted).
    Either,
}

/// Allowed values of each field as bit sets: bit `v` set means value `v` is allowed.
/// Weekday bits count from Monday (bit 0) to Sunday (bit 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fields {
    pub(crate) minutes: u64,
    pub(crate) hours: u64,
    pub(crate) days: u64,
    pub(crate) months: u64,
    pub(crate) weekdays: u64,
    pub(crate) day_rule: DayRule,
}

/// Bit set with every value in `min..=max`.
pub(crate) fn span(min: u32, max: u32) -> u64 {
    (min..=max).fold(0, |bits, v| bits | 1 << v)
}

/// Smallest allowed value in `from..=max`.
fn next_in(bits: u64, from: u32, max: u32) -> Option<u32> {
    if from > max {
        return None;
    }
    let value = (bits & (u64::MAX << from)).trailing_zeros();
    (value <= max).then_some(value)
}

fn is_leap(year: i32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// First whole minute at or after `t`.
pub(crate) fn ceil_minute(t: NaiveDateTime) -> Option<NaiveDateTime> {
    let floor = t.with_second(0)?.with_nanosecond(0)?;
    if floor == t {
        Some(t)
    } else {
        floor.checked_add_signed(TimeDelta::minutes(1))
    }
}

/// First whole minute strictly after `t`.
pub(crate) fn next_minute(t: NaiveDateTime) -> Option<NaiveDateTime> {
    t.with_second(0)?
        .with_nanosecond(0)?
        .checked_add_signed(TimeDelta::minutes(1))
}

impl Fields {
    /// True when some date-time matches: every set is non-empty and some allowed day
    /// exists in some allowed month (29 February counts).
    pub(crate) fn can_fire(&self) -> bool {
        let date_exists = (1..=12)
            .filter(|m| self.months & 1 << m != 0)
            .any(|m| self.days & span(1, days_in_month(2000, m)) != 0);
        let day_ok = match self.day_rule {
            DayRule::Both => self.weekdays != 0 && date_exists,
            DayRule::Either => self.weekdays != 0 || date_exists,
        };
        self.minutes != 0 && self.hours != 0 && self.months != 0 && day_ok
    }

    /// Allowed days of one month as a bit set over 1..=31.
    fn days_of(&self, year: i32, month: u32) -> Option<u64> {
        let first = NaiveDate::from_ymd_opt(year, month, 1)?.weekday();
        let length = days_in_month(year, month);
        let by_weekday = (1..=length)
            .filter(|d| self.weekdays & 1 << ((first.num_days_from_monday() + d - 1) % 7) != 0)
            .fold(0, |bits, d| bits | 1 << d);
        let days = self.days & span(1, length);
        Some(match self.day_rule {
            DayRule::Both => days & by_weekday,
            DayRule::Either => days | by_weekday,
        })
    }

    /// First matching naive date-time at or after `from` (rounded up to a whole minute),
    /// or None when nothing matches within the search horizon.
    pub(crate) fn next_match(&self, from: NaiveDateTime) -> Option<NaiveDateTime> {
        let from = ceil_minute(from)?;
        let (mut year, mut month, mut day) = (from.year(), from.month(), from.day());
        let (mut hour, mut minute) = (from.hour(), from.minute());
        let last_year = year.checked_add(SEARCH_YEARS)?;
        while year <= last_year {
            let Some(m) = next_in(self.months, month, 12) else {
                (year, month, day, hour, minute) = (year + 1, 1, 1, 0, 0);
                continue;
            };
            if m != month {
                (month, day, hour, minute) = (m, 1, 0, 0);
            }
            let Some(d) = next_in(self.days_of(year, month)?, day, 31) else {
                (month, day, hour, minute) = (month + 1, 1, 0, 0);
                continue;
            };
            if d != day {
                (day, hour, minute) = (d, 0, 0);
            }
            let Some(h) = next_in(self.hours, hour, 23) else {
                (day, hour, minute) = (day + 1, 0, 0);
                continue;
            };
            if h != hour {
                (hour, minute) = (h, 0);
            }
            let Some(mi) = next_in(self.minutes, minute, 59) else {
                (hour, minute) = (hour + 1, 0);
                continue;
            };
            return NaiveDate::from_ymd_opt(year, month, day)?.and_hms_opt(hour, mi, 0);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_day(minutes: u64, hours: u64) -> Fields {
        Fields {
            minutes,
            hours,
            days: span(1, 31),
            months: span(1, 12),
            weekdays: span(0, 6),
            day_rule: DayRule::Both,
        }
    }

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .and_then(|date| date.and_hms_opt(h, mi, 0))
            .expect("valid test date")
    }

    #[test]
    fn next_in_respects_bounds() {
        assert_eq!(next_in(0b1010, 0, 59), Some(1));
        assert_eq!(next_in(0b1010, 2, 59), Some(3));
        assert_eq!(next_in(0b1010, 4, 59), None);
        assert_eq!(next_in(1 << 60, 0, 59), None);
        assert_eq!(next_in(u64::MAX, 60, 59), None);
    }

    #[test]
    fn match_at_start_counts() {
        let fields = every_day(1 << 5, 1 << 3);
        assert_eq!(
            fields.next_match(at(2024, 1, 1, 3, 5)),
            Some(at(2024, 1, 1, 3, 5))
        );
        assert_eq!(
            fields.next_match(at(2024, 12, 31, 3, 6)),
            Some(at(2025, 1, 1, 3, 5))
        );
    }

    #[test]
    fn leap_day_is_found_across_years() {
        let fields = Fields {
            days: 1 << 29,
            months: 1 << 2,
            ..every_day(1, 1)
        };
        assert!(fields.can_fire());
        assert_eq!(
            fields.next_match(at(2025, 3, 1, 0, 0)),
            Some(at(2028, 2, 29, 0, 0))
        );
    }

    #[test]
    fn impossible_rule_terminates_with_none() {
        let fields = Fields {
            days: 1 << 31,
            months: 1 << 2,
            ..every_day(1, 1)
        };
        assert!(!fields.can_fire());
        assert_eq!(fields.next_match(at(2025, 1, 1, 0, 0)), None);
    }

    #[test]
    fn search_near_the_end_of_time_returns_none() {
        let fields = every_day(1, 1);
        assert_eq!(fields.next_match(NaiveDateTime::MAX), None);
        assert_eq!(
            fields.next_match(NaiveDateTime::MIN),
            Some(NaiveDateTime::MIN)
        );
    }
}
