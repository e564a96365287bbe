//! Human tables and JSON printing shared by the commands.

use chrono::{DateTime, Utc};
use remote_core::{Job, Schedule, SchedulerItem};
use serde::Serialize;
use serde_json::Value;

use crate::error::{CliError, CliResult};

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> CliResult {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::failure(format!("cannot write JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

/// A time for people: `2030-01-01 12:00:00` (UTC), or `-` when unset.
pub fn time(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(|| "-".into(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string())
}

/// Text cut to `max` characters, with `…` when cut; newlines shown as spaces.
pub fn short(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() <= max {
        flat
    } else {
        let mut cut: String = flat.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// Compact JSON of a value for a table cell.
pub fn json_cell(value: &Value, max: usize) -> String {
    short(&value.to_string(), max)
}

/// A table with a header row and left-aligned columns.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                let pad = widths[i].saturating_sub(cell.chars().count());
                out.push_str(cell);
                out.push_str(&" ".repeat(pad + 2));
            }
        }
        out.trim_end().to_string()
    };
    let mut out = line(headers.to_vec());
    out.push('\n');
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

/// A scheduler rule for people: `every 30s`, `cron '*/5 * * * *' Europe/Zurich`, `minute=0,30`.
pub fn rule(schedule: &Schedule) -> String {
    match schedule {
        Schedule::Delay { delay } => format!(
            "every {}",
            humantime::format_duration(std::time::Duration::from_secs(*delay))
        ),
        Schedule::Crontab {
            expression,
            time_zone,
        } => {
            let zone = if time_zone.is_empty() {
                "UTC"
            } else {
                time_zone
            };
            format!("cron '{expression}' {zone}")
        }
        Schedule::Cron(lists) => {
            let list = |name: &str, values: &[u32]| {
                (!values.is_empty()).then(|| {
                    let values: Vec<String> = values.iter().map(u32::to_string).collect();
                    format!("{name}={}", values.join(","))
                })
            };
            [
                list("minute", &lists.minute),
                list("hour", &lists.hour),
                list("day_of_month", &lists.day_of_month),
                list("month", &lists.month),
                list("day_of_week", &lists.day_of_week),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
        }
    }
}

/// `attempts/max` of a job, e.g. `1/3`.
pub fn attempts(job: &Job) -> String {
    format!("{}/{}", job.attempt, job.max_attempts)
}

/// The table of `remote jobs`.
pub fn jobs_table(jobs: &[Job]) -> String {
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|j| {
            vec![
                j.id.to_string(),
                j.job_name.clone(),
                j.status.to_string(),
                attempts(j),
                time(Some(j.queued_at)),
                time(j.completed_at),
                json_cell(&j.input, 40),
            ]
        })
        .collect();
    table(
        &[
            "ID", "NAME", "STATUS", "ATTEMPTS", "QUEUED", "FINISHED", "INPUT",
        ],
        &rows,
    )
}

/// The table of `remote schedule list`.
pub fn items_table(items: &[SchedulerItem]) -> String {
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|i| {
            vec![
                i.id.to_string(),
                i.job_name.clone(),
                rule(&i.schedule),
                if i.active { "active" } else { "paused" }.to_string(),
                i.misfire.to_string(),
                time(i.next_call_time),
                json_cell(&i.input, 30),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "JOB",
            "RULE",
            "STATE",
            "MISFIRE",
            "NEXT CALL (UTC)",
            "INPUT",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_cells_are_cut() {
        let t = table(&["A", "BB"], &[vec!["xxx".into(), "y".into()]]);
        assert_eq!(t, "A    BB\nxxx  y\n");
        assert_eq!(short("abcdef", 4), "abc…");
        assert_eq!(short("a\nb", 10), "a b");
    }
}
