//! `add`, `status`, `result`, `errors`, `jobs`, `stats`, `cancel`, `remove`.

use std::io::Read;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use remote_core::clock::to_millis;
use remote_core::{CancelOutcome, Job, JobId, JobQuery, JobStatus, JobStore};
use serde_json::{json, Value};

use super::Ctx;
use crate::cli::{AddArgs, JobsArgs, RemoveArgs};
use crate::error::{CliError, CliResult};
use crate::output::{print_json, table, time};

/// Parses JSON input given on the command line; `-` reads stdin.
pub fn parse_input(text: &str) -> CliResult<Value> {
    let text = if text == "-" {
        let mut buf = String::new();
        std::io::stdin()
            .read_to_string(&mut buf)
            .map_err(|e| CliError::usage(format!("cannot read input from stdin: {e}")))?;
        buf
    } else {
        text.to_string()
    };
    serde_json::from_str(&text).map_err(|e| {
        CliError::usage(format!(
            "input is not valid JSON ({e}); quote it for the shell, e.g. '{{\"foo\": \"bar\"}}'"
        ))
    })
}

/// Parses a job id given on the command line.
pub fn parse_job_id(text: &str) -> CliResult<JobId> {
    Ok(JobId::parse(text)?)
}

/// Parses status names; `statuses` may hold comma separated lists.
pub fn parse_statuses(texts: &[String]) -> CliResult<Vec<JobStatus>> {
    texts
        .iter()
        .flat_map(|t| t.split([',', ' ']))
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.trim()
                .to_ascii_lowercase()
                .parse::<JobStatus>()
                .map_err(CliError::from)
        })
        .collect()
}

/// Stores a new queued job directly: used for kinds this process does not run (its defaults
/// given by the caller), so that operators can queue work for workers of another program.
pub async fn enqueue(
    store: &dyn JobStore,
    name: &str,
    input: Value,
    max_retries: u32,
    retry_delay: Duration,
    not_before: Option<DateTime<Utc>>,
) -> remote_core::Result<JobId> {
    let mut job = Job::queued(
        name,
        input,
        max_retries.max(1),
        retry_delay,
        to_millis(Utc::now()),
    );
    job.retry_time = not_before.map(to_millis);
    store.insert_jobs(std::slice::from_ref(&job)).await?;
    Ok(job.id)
}

/// `remote add`.
pub async fn add(ctx: &Ctx, args: AddArgs) -> CliResult {
    if args.wait && ctx.stores.kind == crate::store::StoreKind::Memory {
        return Err(CliError::usage(
            "--wait on the memory: store would wait forever: that store lives in this process, which runs no worker",
        ));
    }
    let known = ctx.factory(&args.job);
    if known.is_none() && !args.force {
        return Err(CliError::usage(format!(
            "unknown job '{}' (this program knows: {}); pass --force to queue it for workers of another program",
            args.job,
            ctx.known_names()
        )));
    }
    let input = match &args.input {
        Some(text) => parse_input(text)?,
        None => known.map_or(Value::Null, |f| f.default_input.clone()),
    };
    let not_before = match (args.at, args.delay) {
        (Some(at), _) => Some(at),
        (None, Some(delay)) => Some(
            chrono::TimeDelta::from_std(delay)
                .ok()
                .and_then(|delta| Utc::now().checked_add_signed(delta))
                .ok_or_else(|| CliError::usage("--in is too long"))?,
        ),
        (None, None) => None,
    };
    let max_retries = args
        .max_retries
        .or(known.map(|f| f.max_retries))
        .unwrap_or(remote_core::job::DEFAULT_MAX_RETRIES);
    let retry_delay = args
        .retry_delay
        .or(known.map(|f| f.retry_delay))
        .unwrap_or(remote_core::job::DEFAULT_RETRY_DELAY);
    let id = enqueue(
        ctx.stores.jobs.as_ref(),
        &args.job,
        input,
        max_retries,
        retry_delay,
        not_before,
    )
    .await?;
    if !args.wait {
        if ctx.json {
            print_json(&json!({"id": id}))?;
        } else {
            println!("{id}");
        }
        return Ok(());
    }
    let job = wait_for(ctx, &id, args.timeout).await?;
    let errors = ctx.processor().job_errors(&id).await?;
    if ctx.json {
        print_json(
            &json!({"id": id, "status": job.status, "output": job.output, "errors": errors}),
        )?;
    } else {
        eprintln!("job {id} {}", job.status);
        if let Some(output) = &job.output {
            print_json(output)?;
        }
        for e in &errors {
            eprintln!("attempt {}: {}", e.attempt, e.message);
        }
    }
    match job.status {
        JobStatus::Completed => Ok(()),
        status => Err(CliError::failure(format!("job {id} ended {status}"))),
    }
}

fn spinner(message: String) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        bar.set_style(style);
    }
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

async fn wait_for(ctx: &Ctx, id: &JobId, timeout: Option<Duration>) -> CliResult<Job> {
    let processor = ctx.processor();
    let started = Instant::now();
    let bar = spinner(format!("waiting for job {id}"));
    let result = loop {
        let job = match processor.get_job(id).await {
            Ok(job) => job,
            Err(e) => break Err(e.into()),
        };
        if job.status.is_final() {
            break Ok(job);
        }
        bar.set_message(format!(
            "waiting for job {id}: {} (attempt {}/{})",
            job.status, job.retry_counter, job.max_retries
        ));
        if timeout.is_some_and(|t| started.elapsed() >= t) {
            break Err(CliError::failure(format!(
                "gave up waiting for job {id} after {}; it is {}",
                humantime::format_duration(timeout.unwrap_or_default()),
                job.status
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    bar.finish_and_clear();
    result
}

/// `remote status`.
pub async fn status(ctx: &Ctx, id: &str) -> CliResult {
    let id = parse_job_id(id)?;
    let status = ctx.processor().job_status(&id).await?;
    if ctx.json {
        print_json(&json!({"id": id, "status": status}))
    } else {
        println!("{status}");
        Ok(())
    }
}

/// `remote result`: the output of a completed job; exit 1 when it has none (yet).
pub async fn result(ctx: &Ctx, id: &str) -> CliResult {
    let id = parse_job_id(id)?;
    let job = ctx.processor().get_job(&id).await?;
    let output = if job.status == JobStatus::Completed {
        job.output.clone()
    } else {
        None
    };
    if ctx.json {
        print_json(&json!({"id": id, "status": job.status, "output": output}))?;
    } else if let Some(output) = &output {
        print_json(output)?;
    }
    match output {
        Some(_) => Ok(()),
        None => Err(CliError::failure(format!(
            "job {id} is {}; it has no result",
            job.status
        ))),
    }
}

/// `remote errors`.
pub async fn errors(ctx: &Ctx, id: &str) -> CliResult {
    let id = parse_job_id(id)?;
    let records = ctx.processor().job_errors(&id).await?;
    if ctx.json {
        return print_json(&records);
    }
    if records.is_empty() {
        eprintln!("job {id} has no error records");
        return Ok(());
    }
    for r in &records {
        println!(
            "attempt {} at {} ({})",
            r.attempt,
            time(Some(r.created)),
            r.id
        );
        for line in r.message.lines() {
            println!("    {line}");
        }
    }
    Ok(())
}

/// `remote jobs`.
pub async fn jobs(ctx: &Ctx, args: JobsArgs) -> CliResult {
    if args.page == 0 || args.limit == 0 {
        return Err(CliError::usage("--page and --limit start at 1"));
    }
    let query = JobQuery {
        statuses: parse_statuses(&args.status)?,
        job_name: args.name,
        oldest_first: args.oldest_first,
        offset: (args.page - 1).saturating_mul(args.limit),
        limit: Some(args.limit),
    };
    let jobs = ctx.processor().list_jobs(&query).await?;
    if ctx.json {
        return print_json(&jobs);
    }
    if jobs.is_empty() {
        eprintln!("no jobs");
    } else {
        print!("{}", crate::output::jobs_table(&jobs));
    }
    Ok(())
}

/// `remote stats`.
pub async fn stats(ctx: &Ctx) -> CliResult {
    let counts = ctx.processor().count_jobs().await?;
    let total: u64 = counts.values().sum();
    if ctx.json {
        let mut map = serde_json::Map::new();
        for (status, n) in &counts {
            map.insert(status.to_string(), json!(n));
        }
        map.insert("total".into(), json!(total));
        return print_json(&map);
    }
    let mut rows: Vec<Vec<String>> = counts
        .iter()
        .map(|(s, n)| vec![s.to_string(), n.to_string()])
        .collect();
    rows.push(vec!["total".into(), total.to_string()]);
    print!("{}", table(&["STATUS", "JOBS"], &rows));
    Ok(())
}

/// `remote cancel`: exit 1 when the job had already ended.
pub async fn cancel(ctx: &Ctx, id: &str) -> CliResult {
    let id = parse_job_id(id)?;
    let outcome = ctx.processor().cancel_job(&id).await?;
    let (cancelled, status) = match outcome {
        CancelOutcome::Cancelled { was } => (true, was),
        CancelOutcome::Unchanged(status) => (false, status),
    };
    if ctx.json {
        print_json(&json!({"id": id, "cancelled": cancelled, "was": status}))?;
    } else if cancelled {
        println!("job {id} cancelled (was {status})");
    }
    if cancelled {
        Ok(())
    } else {
        Err(CliError::failure(format!(
            "job {id} is already {status}; nothing to cancel"
        )))
    }
}

/// `remote remove`.
pub async fn remove(ctx: &Ctx, args: RemoveArgs) -> CliResult {
    let statuses = parse_statuses(&args.statuses)?;
    let bar = spinner("removing jobs".into());
    let removed = ctx.processor().remove_jobs(&statuses).await;
    bar.finish_and_clear();
    let removed = removed?;
    if ctx.json {
        let map: serde_json::Map<String, Value> = removed
            .iter()
            .map(|(s, n)| (s.to_string(), json!(n)))
            .collect();
        return print_json(&map);
    }
    let rows: Vec<Vec<String>> = removed
        .iter()
        .map(|(s, n)| vec![s.to_string(), n.to_string()])
        .collect();
    print!("{}", table(&["STATUS", "REMOVED"], &rows));
    Ok(())
}
