//! Test helpers: fixed instants, a tiny deterministic pseudo-random generator, and the
//! brute-force reference of the list Cron that the seeded and the property tests share.

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Timelike, Utc};

use crate::cron::CronLists;

/// The UTC instant `y-mo-d h:mi:00`.
pub(crate) fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(y, mo, d)
        .and_then(|date| date.and_hms_opt(h, mi, 0))
        .expect("valid test date")
        .and_utc()
}

/// SplitMix64: deterministic, dependency-free randomness for property tests.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-ish value in `min..=max`.
    pub(crate) fn range(&mut self, min: u32, max: u32) -> u32 {
        let width = u64::from(max - min) + 1;
        min + u32::try_from(self.next_u64() % width).expect("below width")
    }

    /// True with probability `percent`/100.
    pub(crate) fn chance(&mut self, percent: u32) -> bool {
        self.range(0, 99) < percent
    }

    /// A few random values in `min..=max` (may repeat).
    pub(crate) fn values(&mut self, min: u32, max: u32, most: u32) -> Vec<u32> {
        let count = self.range(1, most);
        (0..count).map(|_| self.range(min, max)).collect()
    }
}

/// Straightforward restatement of the date part of the rule, for the reference.
fn reference_date_ok(rule: &CronLists, date: NaiveDate) -> bool {
    let day_restricted = !rule.day_of_month.is_empty() || !rule.day_of_week.is_empty();
    let day_ok = if day_restricted {
        (rule.day_of_month.is_empty() || rule.day_of_month.contains(&date.day()))
            && (rule.day_of_week.is_empty()
                || rule
                    .day_of_week
                    .contains(&date.weekday().num_days_from_monday()))
    } else {
        !rule.minute.is_empty() || !rule.hour.is_empty() || date.day() == 1
    };
    day_ok && (rule.month.is_empty() || rule.month.contains(&date.month()))
}

/// Straightforward restatement of the time part of the rule, for the reference.
fn reference_time_ok(rule: &CronLists, hour: u32, minute: u32) -> bool {
    let minute_ok = if rule.minute.is_empty() {
        minute == 0
    } else {
        rule.minute.contains(&minute)
    };
    let hour_ok = if rule.hour.is_empty() {
        !rule.minute.is_empty() || hour == 0
    } else {
        rule.hour.contains(&hour)
    };
    minute_ok && hour_ok
}

/// Minute-by-minute search over the days whose date matches.
pub(crate) fn reference_next(
    rule: &CronLists,
    after: DateTime<Utc>,
    horizon_days: i64,
) -> Option<DateTime<Utc>> {
    let start = after.date_naive();
    (0..horizon_days)
        .map(|offset| start + TimeDelta::days(offset))
        .filter(|date| reference_date_ok(rule, *date))
        .find_map(|date| {
            (0..1440)
                .filter_map(|m| date.and_hms_opt(m / 60, m % 60, 0))
                .map(|t| t.and_utc())
                .find(|t| *t > after && reference_time_ok(rule, t.hour(), t.minute()))
        })
}
