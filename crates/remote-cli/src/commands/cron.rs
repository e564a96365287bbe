//! `cron next`: preview a crontab expression's occurrences.

use chrono::Utc;
use remote_core::Crontab;

use crate::cli::{CronCommand, CronNextArgs};
use crate::error::{CliError, CliResult};
use crate::output::print_json;

/// Most occurrences `cron next` prints.
pub const MAX_OCCURRENCES: usize = 1000;

/// Runs one `cron` subcommand; it needs no store.
pub fn run(json: bool, command: CronCommand) -> CliResult {
    match command {
        CronCommand::Next(args) => next(json, args),
    }
}

fn next(json: bool, args: CronNextArgs) -> CliResult {
    if args.count == 0 || args.count > MAX_OCCURRENCES {
        return Err(CliError::usage(format!("-n takes 1 to {MAX_OCCURRENCES}")));
    }
    let zone_name = args.tz.unwrap_or_default();
    let crontab = Crontab::parse(&args.expression, &zone_name)
        .map_err(|e| CliError::usage(format!("invalid cron expression: {e}")))?;
    let zone = crontab.zone();
    let mut at = args.after.unwrap_or_else(Utc::now);
    let mut times = Vec::with_capacity(args.count);
    while times.len() < args.count {
        match crontab.next_after(at) {
            Some(t) => {
                times.push(t);
                at = t;
            }
            None => break,
        }
    }
    if json {
        let local: Vec<String> = times
            .iter()
            .map(|t| t.with_timezone(&zone).to_rfc3339())
            .collect();
        return print_json(&local);
    }
    if times.is_empty() {
        return Err(CliError::failure("the expression never fires"));
    }
    for t in &times {
        let local = t.with_timezone(&zone);
        println!(
            "{}  ({} UTC)",
            local.format("%a %Y-%m-%d %H:%M:%S %Z"),
            t.format("%Y-%m-%d %H:%M:%S")
        );
    }
    Ok(())
}
