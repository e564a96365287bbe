//! Scheduler items: persisted rules that add a job when due (R14), and what they do with
//! occurrences reached late (R34).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cron::{CronError, CronLists, Crontab};
use crate::error::{Error, Result};
use crate::id::ItemId;
use crate::job::millis;

/// Default time a pulled item stays locked (R14, R15).
pub const DEFAULT_ITEM_LOCK: Duration = Duration::from_secs(300);

/// How late an occurrence of a [`Misfire::Skip`] item may be reached and still fire (R34):
/// a scheduler polling every few seconds stays well within it, downtime does not.
pub const MISFIRE_GRACE: Duration = Duration::from_secs(60);

/// When an item fires.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Schedule {
    /// Every `delay` seconds (R17); `0` never fires.
    Delay {
        /// Seconds between firings.
        delay: u64,
    },
    /// The list Cron of m01.remote, evaluated in UTC (R18).
    Cron(CronLists),
    /// A five-field crontab expression in an IANA time zone (R19).
    Crontab {
        /// The expression, e.g. `*/15 9-17 * * 1-5`.
        expression: String,
        /// IANA zone name; empty means UTC.
        time_zone: String,
    },
}

impl Schedule {
    /// Rejects a rule that cannot be parsed or can never fire (R14, R18, R19).
    pub fn validate(&self) -> Result<(), CronError> {
        match self {
            Schedule::Delay { delay } => i64::try_from(*delay)
                .ok()
                .and_then(TimeDelta::try_seconds)
                .map(|_| ())
                .ok_or_else(|| CronError(format!("delay {delay} is too large"))),
            Schedule::Cron(lists) => lists.validate(),
            Schedule::Crontab {
                expression,
                time_zone,
            } => Crontab::parse(expression, time_zone).map(|_| ()),
        }
    }

    /// False for a rule that never fires (`Delay { delay: 0 }`).
    pub fn fires(&self) -> bool {
        !matches!(self, Schedule::Delay { delay: 0 })
    }

    /// The first firing strictly after `after`, or `None` when the rule never fires.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Delay { delay: 0 } => None,
            Schedule::Delay { delay } => i64::try_from(*delay)
                .ok()
                .and_then(TimeDelta::try_seconds)
                .and_then(|d| after.checked_add_signed(d)),
            Schedule::Cron(lists) => lists.next_after(after),
            Schedule::Crontab {
                expression,
                time_zone,
            } => Crontab::parse(expression, time_zone)
                .ok()?
                .next_after(after),
        }
    }
}

/// What the scheduler does with the occurrences of an item it reaches late, after downtime
/// or a long pause of every scheduler (R34); Quartz calls these misfire instructions.
///
/// Stored as JSON tagged by `policy`: `{"policy": "fire_once"}`, `{"policy": "skip"}`,
/// `{"policy": "fire_each", "max": 5}`. Its short text form (`Display`, `FromStr`) is `once`,
/// `skip` or `each:N`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "policy", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Misfire {
    /// The due occurrence fires once, however many were missed (the rule of R15; default).
    #[default]
    FireOnce,
    /// An occurrence reached more than [`MISFIRE_GRACE`] late adds no job; one reached in
    /// time fires as usual.
    Skip,
    /// Every missed occurrence fires, earliest first, at most `max` of them; later missed
    /// ones are skipped.
    FireEach {
        /// Most occurrences fired at once; at least 1.
        max: u32,
    },
}

impl Misfire {
    /// Rejects a policy that can never fire: `FireEach { max: 0 }` is [`Error::InvalidInput`].
    pub fn validate(&self) -> Result<()> {
        match self {
            Misfire::FireEach { max: 0 } => Err(Error::InvalidInput(
                "misfire policy fire_each (each:N) needs a max of at least 1".into(),
            )),
            _ => Ok(()),
        }
    }

    /// The occurrences of `schedule` that fire when the item due at `due` is reached at `now`,
    /// earliest first: `due` alone, none, or the missed ones up to `now`, bounded by `max`.
    pub fn occurrences(
        &self,
        schedule: &Schedule,
        due: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Vec<DateTime<Utc>> {
        match *self {
            Misfire::FireOnce => vec![due],
            Misfire::Skip => {
                let late = now.signed_duration_since(due);
                let grace = TimeDelta::from_std(MISFIRE_GRACE).unwrap_or(TimeDelta::MAX);
                if late > grace {
                    Vec::new()
                } else {
                    vec![due]
                }
            }
            Misfire::FireEach { max } => {
                let max = usize::try_from(max).unwrap_or(usize::MAX);
                let mut fired = Vec::new();
                let mut next = Some(due);
                while let Some(at) = next.filter(|t| *t <= now) {
                    if fired.len() == max {
                        break;
                    }
                    fired.push(at);
                    next = schedule.next_after(at);
                }
                fired
            }
        }
    }
}

impl fmt::Display for Misfire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Misfire::FireOnce => f.write_str("once"),
            Misfire::Skip => f.write_str("skip"),
            Misfire::FireEach { max } => write!(f, "each:{max}"),
        }
    }
}

impl FromStr for Misfire {
    type Err = Error;

    /// Reads `once`, `skip` or `each:N` (N ≥ 1); anything else is [`Error::InvalidInput`].
    fn from_str(text: &str) -> Result<Self> {
        let misfire = match text.trim() {
            "once" => Misfire::FireOnce,
            "skip" => Misfire::Skip,
            other => {
                let max = other
                    .strip_prefix("each:")
                    .and_then(|n| n.trim().parse::<u32>().ok())
                    .ok_or_else(|| {
                        Error::InvalidInput(format!(
                            "misfire policy '{text}' is not once, skip or each:N (N from 1 to {})",
                            u32::MAX
                        ))
                    })?;
                Misfire::FireEach { max }
            }
        };
        misfire.validate()?;
        Ok(misfire)
    }
}

/// A persisted rule that adds a `job_name` job with `input` when due.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SchedulerItem {
    /// The item's id.
    pub id: ItemId,
    /// Factory name of the jobs it adds.
    pub job_name: String,
    /// Input of the jobs it adds.
    pub input: Value,
    /// Inactive items never fire.
    pub active: bool,
    /// When it is due next; `None` means never.
    pub next_call_time: Option<DateTime<Utc>>,
    /// Lock: not pulled again before this time.
    pub locked_until: Option<DateTime<Utc>>,
    /// How long `pull_next_scheduler_item` locks the item.
    #[serde(with = "millis")]
    pub lock_duration: Duration,
    /// The firing rule.
    pub schedule: Schedule,
    /// What happens to occurrences reached late (R34); items stored without one fire once.
    #[serde(default)]
    pub misfire: Misfire,
}

impl SchedulerItem {
    /// An active item with the default lock time, no input and no next call time yet.
    pub fn new(job_name: impl Into<String>, schedule: Schedule) -> Self {
        Self {
            id: ItemId::new(),
            job_name: job_name.into(),
            input: Value::Null,
            active: true,
            next_call_time: None,
            locked_until: None,
            lock_duration: DEFAULT_ITEM_LOCK,
            schedule,
            misfire: Misfire::default(),
        }
    }

    /// An item firing every `seconds` seconds.
    pub fn delay(job_name: impl Into<String>, seconds: u64) -> Self {
        Self::new(job_name, Schedule::Delay { delay: seconds })
    }

    /// An item firing on a list Cron rule (R18).
    pub fn cron(job_name: impl Into<String>, lists: CronLists) -> Self {
        Self::new(job_name, Schedule::Cron(lists))
    }

    /// An item firing on a crontab expression in an IANA zone ("" for UTC).
    pub fn crontab(
        job_name: impl Into<String>,
        expression: impl Into<String>,
        time_zone: impl Into<String>,
    ) -> Self {
        Self::new(
            job_name,
            Schedule::Crontab {
                expression: expression.into(),
                time_zone: time_zone.into(),
            },
        )
    }

    /// Sets the input of the jobs it adds.
    pub fn with_input(mut self, input: Value) -> Self {
        self.input = input;
        self
    }

    /// Sets whether it fires.
    pub fn with_active(mut self, active: bool) -> Self {
        self.active = active;
        self
    }

    /// Sets how long `pull_next_scheduler_item` locks it.
    pub fn with_lock_duration(mut self, lock: Duration) -> Self {
        self.lock_duration = lock;
        self
    }

    /// Sets what happens to occurrences reached late (R34).
    pub fn with_misfire(mut self, misfire: Misfire) -> Self {
        self.misfire = misfire;
        self
    }

    /// Rejects a rule that cannot be parsed or never fires (R14) and a misfire policy that
    /// never fires (R34).
    pub fn validate(&self) -> Result<()> {
        self.schedule.validate()?;
        self.misfire.validate()
    }

    /// Sets the first call time instead of the one computed at creation.
    pub fn with_next_call_time(mut self, at: DateTime<Utc>) -> Self {
        self.next_call_time = Some(at);
        self
    }

    /// True when it may be pulled at `now` (R15).
    pub fn is_due(&self, now: DateTime<Utc>) -> bool {
        self.active
            && self.next_call_time.is_some_and(|t| t <= now)
            && self.locked_until.is_none_or(|t| t <= now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn fire_once_fires_the_due_occurrence_however_late() {
        let due = at("2026-01-01T00:00:00Z");
        let every_minute = Schedule::Delay { delay: 60 };
        for late in [0, 59, 3_600, 86_400 * 30] {
            assert_eq!(
                Misfire::FireOnce.occurrences(&every_minute, due, due + TimeDelta::seconds(late)),
                [due]
            );
        }
    }

    #[test]
    fn skip_fires_within_the_grace_only() {
        let due = at("2026-01-01T00:00:00Z");
        let rule = Schedule::Delay { delay: 10 };
        let grace = TimeDelta::from_std(MISFIRE_GRACE).unwrap();
        assert_eq!(Misfire::Skip.occurrences(&rule, due, due), [due]);
        assert_eq!(Misfire::Skip.occurrences(&rule, due, due + grace), [due]);
        assert!(Misfire::Skip
            .occurrences(&rule, due, due + grace + TimeDelta::milliseconds(1))
            .is_empty());
    }

    #[test]
    fn fire_each_walks_the_missed_occurrences_up_to_the_bound() {
        let due = at("2026-01-01T00:00:00Z");
        let quarter_hours = Schedule::Cron(CronLists {
            minute: vec![0, 15, 30, 45],
            ..Default::default()
        });
        let now = at("2026-01-01T00:50:00Z");
        let all: Vec<_> = [0, 15, 30, 45]
            .map(|m| due + TimeDelta::minutes(m))
            .to_vec();
        assert_eq!(
            Misfire::FireEach { max: 10 }.occurrences(&quarter_hours, due, now),
            all
        );
        assert_eq!(
            Misfire::FireEach { max: 2 }.occurrences(&quarter_hours, due, now),
            all[..2]
        );
        assert_eq!(
            Misfire::FireEach { max: 3 }.occurrences(&quarter_hours, due, due),
            [due]
        );
    }

    #[test]
    fn fire_each_stops_at_its_bound_after_a_month_offline() {
        let due = at("2026-01-01T00:00:00Z");
        let now = due + TimeDelta::days(31);
        let every_second = Schedule::Delay { delay: 1 };
        let fired = Misfire::FireEach { max: 5 }.occurrences(&every_second, due, now);
        assert_eq!(
            fired,
            (0..5)
                .map(|s| due + TimeDelta::seconds(s))
                .collect::<Vec<_>>()
        );
        let never = Schedule::Delay { delay: 0 };
        assert_eq!(
            Misfire::FireEach { max: 5 }.occurrences(&never, due, now),
            [due]
        );
    }

    #[test]
    fn policies_read_and_write_their_text_and_json_forms() {
        for (misfire, text, json) in [
            (
                Misfire::FireOnce,
                "once",
                serde_json::json!({"policy": "fire_once"}),
            ),
            (Misfire::Skip, "skip", serde_json::json!({"policy": "skip"})),
            (
                Misfire::FireEach { max: 7 },
                "each:7",
                serde_json::json!({"policy": "fire_each", "max": 7}),
            ),
        ] {
            assert_eq!(misfire.to_string(), text);
            assert_eq!(text.parse::<Misfire>().unwrap(), misfire);
            assert_eq!(serde_json::to_value(misfire).unwrap(), json);
            assert_eq!(serde_json::from_value::<Misfire>(json).unwrap(), misfire);
        }
        for bad in [
            "", "each", "each:", "each:0", "each:-1", "each:x", "never", "EACH:2",
        ] {
            assert!(
                matches!(bad.parse::<Misfire>(), Err(Error::InvalidInput(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn fire_each_of_zero_is_invalid_input() {
        let item = SchedulerItem::delay("echo", 60).with_misfire(Misfire::FireEach { max: 0 });
        assert!(matches!(item.validate(), Err(Error::InvalidInput(_))));
        assert!(SchedulerItem::delay("echo", 60)
            .with_misfire(Misfire::FireEach { max: 1 })
            .validate()
            .is_ok());
    }

    #[test]
    fn an_item_written_without_a_policy_fires_once() {
        let item = SchedulerItem::delay("echo", 60);
        let mut json = serde_json::to_value(&item).unwrap();
        assert_eq!(json["misfire"], serde_json::json!({"policy": "fire_once"}));
        json.as_object_mut().unwrap().remove("misfire");
        let read: SchedulerItem = serde_json::from_value(json).unwrap();
        assert_eq!(read.misfire, Misfire::FireOnce);
        assert_eq!(read, item);
    }
}
