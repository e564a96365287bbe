//! Scheduler items: persisted rules that add a job when due (R14).

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cron::{CronError, CronLists, Crontab};
use crate::id::ItemId;
use crate::job::millis;

/// Default lock time of a pulled item (R14).
pub const DEFAULT_ITEM_RETRY_DELAY: Duration = Duration::from_secs(300);

/// When an item fires.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Schedule {
    /// Every `delay` seconds (R17); `0` never fires.
    Delay {
        /// Seconds between firings.
        delay: u64,
    },
    /// The seed's list Cron, evaluated in UTC (R18).
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
    pub retry_time: Option<DateTime<Utc>>,
    /// How long a pull locks the item.
    #[serde(with = "millis")]
    pub retry_delay: Duration,
    /// The firing rule.
    pub schedule: Schedule,
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
            retry_time: None,
            retry_delay: DEFAULT_ITEM_RETRY_DELAY,
            schedule,
        }
    }

    /// An item firing every `seconds` seconds.
    pub fn delay(job_name: impl Into<String>, seconds: u64) -> Self {
        Self::new(job_name, Schedule::Delay { delay: seconds })
    }

    /// An item firing on the seed's list Cron rule.
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

    /// Sets how long a pull locks it.
    pub fn with_retry_delay(mut self, retry_delay: Duration) -> Self {
        self.retry_delay = retry_delay;
        self
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
            && self.retry_time.is_none_or(|t| t <= now)
    }
}
