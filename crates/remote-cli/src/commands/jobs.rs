//! `add`, `status`, `result`, `errors`, `jobs`, `stats`, `cancel`, `retry`, `pause`, `resume`,
//! `remove`, `prune`.

use std::io::Read;
use std::time::{Duration, Instant};

use chrono::Utc;
use indicatif::{ProgressBar, ProgressStyle};
use remote_core::retention::PRUNE_LEADER;
use remote_core::{
    handler_fn, CancelOutcome, FactoryInfo, Inserted, Job, JobContext, JobError, JobFactory, JobId,
    JobOptions, JobQuery, JobStatus, Leader, PausedName, Processor, RetryOutcome, StatusCounts,
    StatusSet, Unique,
};
use serde_json::{json, Value};
use tracing::Instrument;

use super::Ctx;
use crate::cli::{AddArgs, JobsArgs, RemoveArgs, RetryArgs};
use crate::error::{CliError, CliResult};
use crate::output::{print_json, table, time};
use crate::store::{StoreKind, Stores};

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

/// What adding a job did: stored it, or found its unique key held by another job (R27).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Added {
    /// The job was stored under this id.
    New(JobId),
    /// Nothing was added: the job with this id holds the unique key.
    Duplicate(JobId),
}

impl Added {
    /// The id to follow: the new job's, or the holder's.
    pub fn id(&self) -> &JobId {
        match self {
            Added::New(id) | Added::Duplicate(id) => id,
        }
    }

    /// True when nothing was added because the unique key is held.
    pub fn is_duplicate(&self) -> bool {
        matches!(self, Added::Duplicate(_))
    }
}

/// Adds a job built by [`Processor::prepare_job`] through `processor` (which wakes its idle
/// workers), telling a new job from a duplicate of a held unique key (R27).
pub async fn add_prepared(processor: &Processor, job: Job) -> remote_core::Result<Added> {
    let inserted = processor
        .add_prepared_jobs(std::slice::from_ref(&job))
        .await?;
    match inserted.into_iter().next() {
        Some(Inserted::Duplicate(holder)) => Ok(Added::Duplicate(holder)),
        Some(_) => Ok(Added::New(job.id)),
        None => Err(remote_core::Error::store_msg(
            "the store answered no insert for one job",
        )),
    }
}

/// Adds a job through `processor` (its factory's defaults and `options`), telling a new job
/// from a duplicate.
pub async fn add_through(
    processor: &Processor,
    name: &str,
    input: Option<Value>,
    options: JobOptions,
) -> remote_core::Result<Added> {
    add_prepared(processor, processor.prepare_job(name, input, options)?).await
}

/// The defaults a job added from the command line takes: a known kind's, overridden by flags.
#[derive(Clone, Debug)]
pub struct Defaults {
    /// Input of a job added without one.
    pub input: Value,
    /// Attempts in all.
    pub max_attempts: u32,
    /// Pause after a failed attempt.
    pub retry_delay: Duration,
    /// Priority of the kind's jobs.
    pub priority: i16,
    /// Longest run of one attempt.
    pub timeout: Option<Duration>,
    /// How the kind's jobs are kept unique.
    pub unique: Option<Unique>,
}

impl Defaults {
    /// The defaults of a known kind, or the core's for a kind this program does not know.
    pub fn of(known: Option<&FactoryInfo>) -> Self {
        match known {
            Some(f) => Self {
                input: f.default_input.clone(),
                max_attempts: f.max_attempts,
                retry_delay: f.retry_delay,
                priority: f.priority,
                timeout: f.timeout,
                unique: f.unique.clone(),
            },
            None => Self {
                input: Value::Null,
                max_attempts: remote_core::job::DEFAULT_MAX_ATTEMPTS,
                retry_delay: remote_core::job::DEFAULT_RETRY_DELAY,
                priority: 0,
                timeout: None,
                unique: None,
            },
        }
    }
}

/// Adds a queued job with these defaults and options. The kind need not be one this program
/// runs, so that operators can queue work for workers of another program: the job is built by
/// a processor that registers the name with these defaults and runs nothing (R1, R26–R28).
pub async fn enqueue(
    stores: &Stores,
    name: &str,
    input: Option<Value>,
    defaults: &Defaults,
    options: JobOptions,
) -> remote_core::Result<Added> {
    let adder = Processor::builder_with(stores.jobs.clone(), stores.items.clone()).build();
    let mut factory = JobFactory::new(
        name,
        handler_fn(|ctx: JobContext| async move {
            Err::<Value, _>(JobError::permanent(format!(
                "'{}' jobs are run by workers, not by the process adding them",
                ctx.job_name
            )))
        }),
    )
    .default_input(defaults.input.clone())
    .max_attempts(defaults.max_attempts)
    .retry_delay(defaults.retry_delay)
    .priority(defaults.priority);
    if let Some(timeout) = defaults.timeout {
        factory = factory.timeout(timeout);
    }
    if let Some(unique) = &defaults.unique {
        factory = factory.unique(unique.clone());
    }
    adder.register(factory)?;
    let job = adder.prepare_job(name, input, options)?;
    add_prepared(&adder, job).await
}

/// The unique-key options of `add`, or `None` when none was given.
fn unique_of(args: &AddArgs, kind_default: Option<&Unique>) -> CliResult<Option<Unique>> {
    let chosen = if let Some(key) = &args.unique_key {
        Some(Unique::key(key.clone()))
    } else if !args.unique_by.is_empty() {
        Some(Unique::fields(args.unique_by.clone()))
    } else if args.unique_input {
        Some(Unique::input())
    } else {
        None
    };
    if args.unique_across.is_empty() {
        return Ok(chosen);
    }
    let across = StatusSet::of(&parse_statuses(&args.unique_across)?);
    match chosen.or_else(|| kind_default.cloned()) {
        Some(unique) => Ok(Some(unique.across(across))),
        None => Err(CliError::usage(
            "--unique-across needs --unique-key, --unique-by or --unique-input (this kind is not unique by itself)",
        )),
    }
}

/// `remote add`.
pub async fn add(ctx: &Ctx, args: AddArgs) -> CliResult {
    if args.wait && ctx.stores.kind == StoreKind::Memory {
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
        Some(text) => Some(parse_input(text)?),
        None => None,
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
    let mut defaults = Defaults::of(known);
    if let Some(n) = args.max_attempts {
        defaults.max_attempts = n;
    }
    if let Some(delay) = args.retry_delay {
        defaults.retry_delay = delay;
    }
    let mut options = JobOptions::new();
    if let Some(at) = not_before {
        options = options.not_before(at);
    }
    if let Some(priority) = args.priority {
        options = options.priority(priority);
    }
    if let Some(timeout) = args.timeout {
        if timeout.is_zero() {
            return Err(CliError::usage("--timeout must be longer than 0s"));
        }
        options = options.timeout(timeout);
    }
    if let Some(unique) = unique_of(&args, defaults.unique.as_ref())? {
        options = options.unique(unique);
    }
    let added = enqueue(&ctx.stores, &args.job, input, &defaults, options)
        .instrument(tracing::info_span!("add_job", job_name = %args.job))
        .await?;
    let id = added.id().clone();
    let duplicate = added.is_duplicate();
    if duplicate {
        eprintln!("a job with this unique key is queued or running: {id}; nothing added");
    }
    if !args.wait {
        if ctx.json {
            print_json(&json!({"id": id, "duplicate": duplicate}))?;
        } else {
            println!("{id}");
        }
        return Ok(());
    }
    let job = wait_for(ctx, &id, args.wait_timeout).await?;
    let errors = ctx.processor().job_errors(&id).await?;
    if ctx.json {
        print_json(&json!({
            "id": id, "duplicate": duplicate, "status": job.status, "output": job.output, "errors": errors
        }))?;
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
            job.status, job.attempt, job.max_attempts
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

/// The paused names as JSON: `[{"name", "since"}]`.
pub fn paused_json(paused: &[PausedName]) -> Value {
    json!(paused
        .iter()
        .map(|p| json!({"name": p.name, "since": p.since}))
        .collect::<Vec<_>>())
}

/// What the prune lease says as JSON: `{"holder", "until", "last_run", "took_ms", "removed"}`,
/// `null` when no process has pruned this store yet (R33).
pub fn pruning_json(leaders: &[Leader]) -> Value {
    match leaders.iter().find(|l| l.name == PRUNE_LEADER) {
        Some(l) => json!({
            "holder": l.holder,
            "until": l.until,
            "last_run": l.note.get("last_run"),
            "took_ms": l.note.get("took_ms"),
            "removed": l.note.get("removed"),
        }),
        None => Value::Null,
    }
}

/// Removed counts for people: `3 completed, 0 cancelled, 1 error`.
pub fn counts_text(counts: &Value) -> String {
    match counts.as_object() {
        Some(map) if !map.is_empty() => map
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect::<Vec<_>>()
            .join(", "),
        _ => "nothing".into(),
    }
}

/// `remote stats`: the store, its jobs by status, paused names and the last pruning.
pub async fn stats(ctx: &Ctx) -> CliResult {
    let processor = ctx.processor();
    let counts = processor.count_jobs().await?;
    let total: u64 = counts.values().sum();
    let paused = processor.paused_job_names().await?;
    let pruning = pruning_json(&processor.maintenance_leaders().await?);
    if ctx.json {
        let mut map = serde_json::Map::new();
        map.insert("store".into(), ctx.stores.describe());
        for (status, n) in &counts {
            map.insert(status.to_string(), json!(n));
        }
        map.insert("total".into(), json!(total));
        map.insert("paused".into(), paused_json(&paused));
        map.insert("pruning".into(), pruning);
        return print_json(&map);
    }
    println!("store: {} ({})", ctx.stores.kind, ctx.stores.display);
    let mut rows: Vec<Vec<String>> = counts
        .iter()
        .map(|(s, n)| vec![s.to_string(), n.to_string()])
        .collect();
    rows.push(vec!["total".into(), total.to_string()]);
    print!("{}", table(&["STATUS", "JOBS"], &rows));
    if paused.is_empty() {
        println!("paused: none");
    } else {
        let names: Vec<String> = paused
            .iter()
            .map(|p| format!("{} (since {})", p.name, time(Some(p.since))))
            .collect();
        println!("paused: {}", names.join(", "));
    }
    if pruning.is_null() {
        println!("pruning: not run yet");
    } else {
        let last = pruning["last_run"]
            .as_str()
            .and_then(|t| crate::cli::parse_time(t).ok());
        println!(
            "pruning: last run {}, took {} ms, removed {}; by {} until {}",
            time(last),
            pruning["took_ms"],
            counts_text(&pruning["removed"]),
            pruning["holder"].as_str().unwrap_or("?"),
            pruning["until"].as_str().unwrap_or("?"),
        );
    }
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

/// Prints counts by status, as JSON (`{"<status>": n, …}`) or a table under `heading`.
fn print_counts(ctx: &Ctx, counts: &StatusCounts, heading: &str) -> CliResult {
    if ctx.json {
        let map: serde_json::Map<String, Value> = counts
            .iter()
            .map(|(s, n)| (s.to_string(), json!(n)))
            .collect();
        return print_json(&map);
    }
    let rows: Vec<Vec<String>> = counts
        .iter()
        .map(|(s, n)| vec![s.to_string(), n.to_string()])
        .collect();
    print!("{}", table(&["STATUS", heading], &rows));
    Ok(())
}

/// `remote remove`: by status, or only jobs finished longer ago than `--older-than`, removed
/// in batches (R6, R33).
pub async fn remove(ctx: &Ctx, args: RemoveArgs) -> CliResult {
    let mut texts = args.statuses;
    texts.extend(args.status);
    let statuses = parse_statuses(&texts)?;
    let processor = ctx.processor();
    let bar = spinner("removing jobs".into());
    let removed = match args.older_than {
        Some(age) => {
            let before = chrono::TimeDelta::from_std(age)
                .ok()
                .and_then(|age| processor.now().checked_sub_signed(age))
                .ok_or_else(|| CliError::usage("--older-than is too long"));
            match before {
                Ok(before) => {
                    processor
                        .remove_jobs_finished_before(&statuses, before)
                        .await
                }
                Err(e) => {
                    bar.finish_and_clear();
                    return Err(e);
                }
            }
        }
        None => processor.remove_jobs(&statuses).await,
    };
    bar.finish_and_clear();
    print_counts(ctx, &removed?, "REMOVED")
}

/// `remote prune`: removes the finished jobs older than their retention now (R33).
pub async fn prune(ctx: &Ctx, processor: &Processor) -> CliResult {
    let bar = spinner("pruning finished jobs".into());
    let removed = processor.prune_finished_jobs().await;
    bar.finish_and_clear();
    let mut removed = removed?;
    for status in JobStatus::REMOVABLE {
        removed.entry(status).or_insert(0);
    }
    print_counts(ctx, &removed, "PRUNED")
}

/// `remote retry`: one job by id (exit 1 when it is not in error or cancelled), or every job
/// with `--status` (and `--name`) in bulk, with counts (R30).
pub async fn retry(ctx: &Ctx, args: RetryArgs) -> CliResult {
    let processor = ctx.processor();
    let Some(id) = args.id else {
        let statuses = parse_statuses(&args.status)?;
        let retried = processor
            .retry_jobs(&statuses, args.name.as_deref())
            .await?;
        return print_counts(ctx, &retried, "RETRIED");
    };
    let id = parse_job_id(&id)?;
    let (retried, was) = match processor.retry_job(&id).await? {
        RetryOutcome::Retried { was } => (true, was),
        RetryOutcome::Unchanged(status) => (false, status),
    };
    if ctx.json {
        print_json(&json!({"id": id, "retried": retried, "was": was}))?;
    } else if retried {
        println!("job {id} queued again (was {was})");
    }
    if retried {
        Ok(())
    } else if matches!(was, JobStatus::Error | JobStatus::Cancelled) {
        Err(CliError::failure(format!(
            "job {id} is {was} but its unique key is held by another job; retry it when that one is done"
        )))
    } else {
        Err(CliError::failure(format!(
            "job {id} is {was}; only error and cancelled jobs are retried"
        )))
    }
}

/// `remote pause` and `remote resume` (R31).
pub async fn pause(ctx: &Ctx, name: &str, paused: bool) -> CliResult {
    let processor = ctx.processor();
    if paused {
        processor.pause_job_name(name).await?;
    } else {
        processor.resume_job_name(name).await?;
    }
    if ctx.json {
        print_json(&json!({"name": name, "paused": paused}))
    } else {
        if paused {
            println!("paused '{name}': no worker claims its jobs until `remote resume {name}`");
        } else {
            println!("resumed '{name}'");
        }
        Ok(())
    }
}
