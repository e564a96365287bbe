//! Crontab expressions evaluated in an IANA time zone, with Vixie cron's
//! daylight-saving behaviour on the local naive times the engine finds.

use chrono::{DateTime, FixedOffset, LocalResult, NaiveDateTime, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

use crate::cron::fields::{next_minute, Fields};
use crate::cron::parse::parse;
use crate::cron::CronError;

/// How many matches the final search may find at or before `after` (only in odd
/// zone histories) before it gives up.
const MAX_STALE_MATCHES: usize = 16;

/// A five-field crontab expression evaluated in an IANA time zone.
/// Day-of-month and day-of-week are OR-ed when both are restricted, as in Vixie cron.
#[derive(Debug, Clone, PartialEq)]
pub struct Crontab {
    expression: String,
    zone: Tz,
    fields: Fields,
    interval: bool,
}

/// A stretch of local time that happens twice because the clock was set back.
struct Fold {
    /// First repeated local time.
    start: NaiveDateTime,
    /// First local time after the repeated stretch.
    end: NaiveDateTime,
    /// Offset during the first copy.
    first: FixedOffset,
    /// Offset during the second copy.
    second: FixedOffset,
    /// Whether the instant the search starts from lies in the first copy.
    from_first_copy: bool,
}

/// Smallest whole second in `lo..=hi` for which `pred` holds, given that it holds at
/// `hi` and flips only once.
fn first_second(mut lo: i64, mut hi: i64, pred: impl Fn(i64) -> bool) -> i64 {
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    hi
}

fn at_offset(local: NaiveDateTime, offset: FixedOffset) -> Option<DateTime<Utc>> {
    local.checked_sub_offset(offset).map(|t| t.and_utc())
}

impl Crontab {
    /// `zone` is an IANA name such as "Europe/Zurich"; "" means UTC.
    pub fn parse(expression: &str, zone: &str) -> Result<Crontab, CronError> {
        let zone = match zone {
            "" => Tz::UTC,
            name => name
                .parse::<Tz>()
                .map_err(|_| CronError(format!("unknown time zone {name:?}")))?,
        };
        let parsed = parse(expression)?;
        Ok(Crontab {
            expression: expression.to_owned(),
            zone,
            fields: parsed.fields,
            interval: parsed.interval,
        })
    }

    /// First instant strictly after `after` at which the job fires, None if it never does.
    /// Skipped local times fire at the end of the gap; repeated ones fire once, or twice for interval jobs.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let (local, offset) = self.local(after)?;
        let from = next_minute(local)?;
        let Some(fold) = self.fold_around(after, local, offset) else {
            return self.first_from(from, after);
        };
        // After `after` come the rest of the first copy, then the second copy, then the rest.
        let in_fold = |from| self.fields.next_match(from).filter(|n| *n < fold.end);
        let second_copy_from = if fold.from_first_copy {
            if let Some(n) = in_fold(from) {
                return at_offset(n, fold.first);
            }
            fold.start
        } else {
            from
        };
        if self.interval {
            if let Some(n) = in_fold(second_copy_from) {
                return at_offset(n, fold.second);
            }
        }
        self.first_from(fold.end, after)
    }

    /// True when the minute or hour field is `*` or `*/n` (Vixie cron's wildcard jobs,
    /// which fire in both copies of a repeated hour); a field counts when it starts with `*`.
    pub fn is_interval(&self) -> bool {
        self.interval
    }

    /// The expression as given to [`Crontab::parse`].
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The time zone the expression is evaluated in.
    pub fn zone(&self) -> Tz {
        self.zone
    }

    fn local(&self, instant: DateTime<Utc>) -> Option<(NaiveDateTime, FixedOffset)> {
        let offset = self
            .zone
            .offset_from_utc_datetime(&instant.naive_utc())
            .fix();
        Some((instant.naive_utc().checked_add_offset(offset)?, offset))
    }

    fn local_at_second(&self, timestamp: i64) -> Option<(NaiveDateTime, FixedOffset)> {
        self.local(DateTime::from_timestamp(timestamp, 0)?)
    }

    /// The repeated stretch of local time that `after` lies in, if any.
    fn fold_around(
        &self,
        after: DateTime<Utc>,
        local: NaiveDateTime,
        offset: FixedOffset,
    ) -> Option<Fold> {
        let LocalResult::Ambiguous(a, b) = self.zone.from_local_datetime(&local) else {
            return None;
        };
        let (first, second) = (a.offset().fix(), b.offset().fix());
        let shift = i64::from(first.local_minus_utc() - second.local_minus_utc());
        if shift <= 0 {
            return None;
        }
        let from_first_copy = offset == first;
        let lo = after.timestamp() - if from_first_copy { 0 } else { shift };
        let change = first_second(lo, lo + shift, |t| {
            self.local_at_second(t)
                .is_none_or(|(_, offset)| offset == second)
        });
        let change = DateTime::from_timestamp(change, 0)?.naive_utc();
        Some(Fold {
            start: change.checked_add_offset(second)?,
            end: change.checked_add_offset(first)?,
            first,
            second,
            from_first_copy,
        })
    }

    /// The instant a skipped local time `gap` maps to: the first instant whose local time is later.
    fn gap_end(&self, gap: NaiveDateTime) -> Option<DateTime<Utc>> {
        let naive = gap.and_utc().timestamp();
        let day = TimeDelta::days(1).num_seconds();
        let change = first_second(naive - day, naive + day, |t| {
            self.local_at_second(t).is_none_or(|(local, _)| local > gap)
        });
        DateTime::from_timestamp(change, 0)
    }

    /// First firing instant after `after` among local matches from `from` on, outside any
    /// fold `after` lies in: a repeated time fires at its first copy, a skipped one at the gap's end.
    fn first_from(&self, mut from: NaiveDateTime, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        for _ in 0..MAX_STALE_MATCHES {
            let local = self.fields.next_match(from)?;
            let fires_at = match self.zone.from_local_datetime(&local) {
                LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => {
                    Some(t.with_timezone(&Utc))
                }
                LocalResult::None => self.gap_end(local),
            };
            if let Some(t) = fires_at.filter(|t| *t > after) {
                return Some(t);
            }
            from = local.checked_add_signed(TimeDelta::minutes(1))?;
        }
        None
    }
}
