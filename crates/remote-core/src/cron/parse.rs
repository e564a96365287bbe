//! Parsing of five-field crontab expressions (Vixie cron syntax) into field sets.

use crate::cron::fields::{DayRule, Fields};
use crate::cron::CronError;

/// One crontab field: its name in messages, its value range and its optional names.
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    first_named: u32,
}

const MINUTE: Field = Field {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
    first_named: 0,
};
const HOUR: Field = Field {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
    first_named: 0,
};
const DAY_OF_MONTH: Field = Field {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
    first_named: 0,
};
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
    first_named: 1,
};
const DAY_OF_WEEK: Field = Field {
    name: "day-of-week",
    min: 0,
    max: 7,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
    first_named: 0,
};

/// A parsed expression: the field sets, and whether it is a wildcard (interval) job.
pub(crate) struct Parsed {
    pub(crate) fields: Fields,
    pub(crate) interval: bool,
}

/// Parses a five-field expression or a macro such as `@daily`.
pub(crate) fn parse(expression: &str) -> Result<Parsed, CronError> {
    let text = expand_macro(expression.trim())?;
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [minute, hour, dom, month, dow] = parts[..] else {
        return Err(CronError(format!(
            "expected 5 fields (minute hour day-of-month month day-of-week), found {} in {expression:?}",
            parts.len()
        )));
    };
    let sunday_first = DAY_OF_WEEK.parse(dow)?;
    let weekdays = (0..=7)
        .filter(|v| sunday_first & 1 << v != 0)
        .fold(0, |bits, v| bits | 1 << ((v + 6) % 7));
    let day_rule = if dom.starts_with('*') || dow.starts_with('*') {
        DayRule::Both
    } else {
        DayRule::Either
    };
    let fields = Fields {
        minutes: MINUTE.parse(minute)?,
        hours: HOUR.parse(hour)?,
        days: DAY_OF_MONTH.parse(dom)?,
        months: MONTH.parse(month)?,
        weekdays,
        day_rule,
    };
    if !fields.can_fire() {
        return Err(CronError(format!(
            "day-of-month field {dom:?} names no day that exists in month field {month:?}"
        )));
    }
    Ok(Parsed {
        fields,
        interval: minute.starts_with('*') || hour.starts_with('*'),
    })
}

fn expand_macro(text: &str) -> Result<&str, CronError> {
    if !text.starts_with('@') {
        return Ok(text);
    }
    Ok(match text.to_ascii_lowercase().as_str() {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        _ => {
            return Err(CronError(format!(
                "unknown macro {text:?}: expected @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly"
            )))
        }
    })
}

impl Field {
    fn error(&self, why: String) -> CronError {
        CronError(format!("{} field: {why}", self.name))
    }

    /// Bit set of the values a comma-separated list of items allows.
    fn parse(&self, text: &str) -> Result<u64, CronError> {
        text.split(',')
            .try_fold(0, |bits, item| Ok(bits | self.parse_item(item)?))
    }

    /// One item: `*`, `v`, `a-b`, optionally followed by `/step`.
    fn parse_item(&self, item: &str) -> Result<u64, CronError> {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, Some(self.parse_step(step)?)),
            None => (item, None),
        };
        let (low, high) = if range == "*" {
            (self.min, self.max)
        } else if let Some((low, high)) = range.split_once('-') {
            let (low, high) = (self.value(low)?, self.value(high)?);
            if low > high {
                return Err(self.error(format!("reversed range {range:?}")));
            }
            (low, high)
        } else {
            let low = self.value(range)?;
            (low, if step.is_some() { self.max } else { low })
        };
        Ok((low..=high)
            .step_by(step.unwrap_or(1))
            .fold(0, |bits, v| bits | 1 << v))
    }

    fn parse_step(&self, text: &str) -> Result<usize, CronError> {
        match text.parse::<usize>() {
            Ok(0) => Err(self.error("step 0 is not allowed".into())),
            Ok(step) if text.bytes().all(|b| b.is_ascii_digit()) => Ok(step),
            _ => Err(self.error(format!("invalid step {text:?}"))),
        }
    }

    /// A number or (case-insensitive) name within the field's range.
    fn value(&self, text: &str) -> Result<u32, CronError> {
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            return match text.parse::<u32>() {
                Ok(v) if (self.min..=self.max).contains(&v) => Ok(v),
                _ => Err(self.error(format!(
                    "value {text} is out of range {}-{}",
                    self.min, self.max
                ))),
            };
        }
        let lower = text.to_ascii_lowercase();
        match self
            .names
            .iter()
            .zip(self.first_named..)
            .find(|(name, _)| **name == lower)
        {
            Some((_, value)) => Ok(value),
            None if !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphabetic()) => {
                Err(self.error(format!("unknown name {text:?}")))
            }
            None => Err(self.error(format!("invalid value {text:?}"))),
        }
    }
}
