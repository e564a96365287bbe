//! `schedule add|list|show|pause|resume|remove`.

use remote_core::{CronLists, ItemId, Schedule, SchedulerItem};
use serde_json::{json, Value};

use super::jobs::parse_input;
use super::Ctx;
use crate::cli::{ScheduleAddArgs, ScheduleCommand};
use crate::error::{CliError, CliResult};
use crate::output::{items_table, print_json, rule, time};

/// Runs one `schedule` subcommand.
pub async fn run(ctx: &Ctx, command: ScheduleCommand) -> CliResult {
    match command {
        ScheduleCommand::Add(args) => add(ctx, *args).await,
        ScheduleCommand::List => list(ctx).await,
        ScheduleCommand::Show(arg) => show(ctx, &arg.id).await,
        ScheduleCommand::Pause(arg) => set_active(ctx, &arg.id, false).await,
        ScheduleCommand::Resume(arg) => set_active(ctx, &arg.id, true).await,
        ScheduleCommand::Remove(arg) => {
            let id = ItemId::parse(&arg.id)?;
            ctx.processor().remove_scheduler_item(&id).await?;
            if ctx.json {
                print_json(&json!({"id": id, "removed": true}))
            } else {
                println!("scheduler item {id} removed");
                Ok(())
            }
        }
    }
}

/// The rule the flags of `schedule add` describe.
pub fn schedule_of(args: &ScheduleAddArgs) -> CliResult<Schedule> {
    if let Some(every) = args.every {
        if every.subsec_nanos() != 0 || every.as_secs() == 0 {
            return Err(CliError::usage(
                "--every takes whole seconds, at least 1s (e.g. 30s, 5m)",
            ));
        }
        return Ok(Schedule::Delay {
            delay: every.as_secs(),
        });
    }
    if let Some(expression) = &args.cron {
        return Ok(Schedule::Crontab {
            expression: expression.clone(),
            time_zone: args.tz.clone().unwrap_or_default(),
        });
    }
    Ok(Schedule::Cron(CronLists {
        minute: args.minute.clone(),
        hour: args.hour.clone(),
        day_of_month: args.day_of_month.clone(),
        month: args.month.clone(),
        day_of_week: args.day_of_week.clone(),
    }))
}

async fn add(ctx: &Ctx, args: ScheduleAddArgs) -> CliResult {
    if ctx.factory(&args.job).is_none() && !args.force {
        return Err(CliError::usage(format!(
            "unknown job '{}' (this program knows: {}); pass --force to schedule it for workers of another program",
            args.job,
            ctx.known_names()
        )));
    }
    let schedule = schedule_of(&args)?;
    let input = match &args.input {
        Some(text) => parse_input(text)?,
        None => ctx
            .factory(&args.job)
            .map_or(Value::Null, |f| f.default_input.clone()),
    };
    let mut item = SchedulerItem::new(args.job.clone(), schedule)
        .with_input(input)
        .with_active(!args.paused);
    if let Some(first) = args.first {
        item = item.with_next_call_time(first);
    }
    if let Some(lock) = args.lock_duration {
        item = item.with_lock_duration(lock);
    }
    if let Some(misfire) = args.misfire {
        item = item.with_misfire(misfire);
    }
    let processor = ctx.processor();
    let id = processor.add_scheduler_item(item).await?;
    let stored = processor.scheduler_item(&id).await?;
    if ctx.json {
        print_json(&stored)
    } else {
        println!("{id}");
        eprintln!(
            "{} → {} ({}, misfire {}); next call {}",
            rule(&stored.schedule),
            stored.job_name,
            if stored.active { "active" } else { "paused" },
            stored.misfire,
            time(stored.next_call_time)
        );
        Ok(())
    }
}

async fn list(ctx: &Ctx) -> CliResult {
    let items = ctx.processor().scheduler_items().await?;
    if ctx.json {
        return print_json(&items);
    }
    if items.is_empty() {
        eprintln!("no scheduler items");
    } else {
        print!("{}", items_table(&items));
    }
    Ok(())
}

async fn show(ctx: &Ctx, id: &str) -> CliResult {
    let id = ItemId::parse(id)?;
    let item = ctx.processor().scheduler_item(&id).await?;
    if ctx.json {
        return print_json(&item);
    }
    println!("id          {}", item.id);
    println!("job         {}", item.job_name);
    println!("rule        {}", rule(&item.schedule));
    println!(
        "state       {}",
        if item.active { "active" } else { "paused" }
    );
    println!("next call   {} UTC", time(item.next_call_time));
    println!("locked to   {}", time(item.locked_until));
    println!(
        "lock time   {}",
        humantime::format_duration(item.lock_duration)
    );
    println!("misfire     {}", item.misfire);
    println!("input       {}", item.input);
    Ok(())
}

async fn set_active(ctx: &Ctx, id: &str, active: bool) -> CliResult {
    let id = ItemId::parse(id)?;
    let item = ctx
        .processor()
        .set_scheduler_item_active(&id, active)
        .await?;
    if ctx.json {
        return print_json(&item);
    }
    if active {
        println!(
            "scheduler item {id} resumed; next call {}",
            time(item.next_call_time)
        );
    } else {
        println!("scheduler item {id} paused");
    }
    Ok(())
}
