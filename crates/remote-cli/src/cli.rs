//! The command line: global options, subcommands and their arguments (clap).

use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};
use remote_core::Misfire;

use crate::error::EXIT_CODES_HELP;
use crate::store::DEFAULT_STORE;
use crate::telemetry::{LogFormat, Otlp, OtlpProtocol};

/// `remote`: run and operate the remote job queue.
#[derive(Debug, Parser)]
#[command(
    name = "remote",
    version,
    about = "Run and operate the remote job queue: workers, scheduler, dashboard and operator commands.",
    after_help = EXIT_CODES_HELP,
    propagate_version = true
)]
pub struct Cli {
    /// Store URL: sqlite://FILE (created if missing), postgres://…, mysql://… (or mariadb://…),
    /// mongodb://…/DB, redis://… (or rediss://…) or memory:. Query parameters read here:
    /// prefix=NAME (tables, keys or collections of this queue) and, for PostgreSQL, schema=NAME.
    #[arg(long, global = true, env = "REMOTE_STORE", default_value = DEFAULT_STORE, hide_env_values = true)]
    pub store: String,

    /// Print JSON instead of human tables.
    #[arg(long, global = true)]
    pub json: bool,

    /// Give up connecting to the store after this long (exit 4).
    #[arg(long, global = true, default_value = "10s", value_parser = parse_duration)]
    pub connect_timeout: Duration,

    /// Log lines on stderr as text or as JSON objects (level from RUST_LOG).
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "REMOTE_LOG_FORMAT"
    )]
    pub log_format: LogFormat,

    /// Export traces (a span per attempt) and metrics over OTLP/HTTP to this collector, e.g.
    /// http://127.0.0.1:4318 (needs the `otel` feature).
    #[arg(long, global = true, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,

    /// The OTLP/HTTP wire format.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "http/protobuf",
        env = "OTEL_EXPORTER_OTLP_PROTOCOL"
    )]
    pub otlp_protocol: OtlpProtocol,

    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The OTLP export the options ask for.
    pub fn otlp(&self) -> Option<Otlp> {
        self.otlp_endpoint
            .as_deref()
            .filter(|e| !e.trim().is_empty())
            .map(|endpoint| Otlp {
                endpoint: endpoint.trim().to_string(),
                protocol: self.otlp_protocol,
            })
    }
}

/// Every subcommand.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Job worker, scheduler worker and dashboard in one process.
    Serve(ServeArgs),
    /// Only a job worker (run many of them against one store).
    Worker(WorkerArgs),
    /// Only the scheduler worker (run one against a store).
    Scheduler(SchedulerArgs),
    /// Fill the store with a demonstration (echo, failing, retried, delayed and cron jobs) and serve it.
    Demo(ServeArgs),
    /// Add a job: `remote add echo '{"foo": "bar"}'`.
    Add(AddArgs),
    /// Print a job's status.
    Status(IdArg),
    /// Print a completed job's output.
    Result(IdArg),
    /// Print a job's error records, oldest first.
    Errors(IdArg),
    /// List jobs, newest first, filtered and paged.
    Jobs(JobsArgs),
    /// Show the store's kind and count its jobs by status.
    Stats,
    /// Cancel a queued or processing job.
    Cancel(IdArg),
    /// Put a job in error or cancelled back in the queue with a fresh attempt budget, or every
    /// such job with `--status` (and `--name`).
    Retry(RetryArgs),
    /// Stop every worker of every process from claiming jobs of a name (running ones finish).
    Pause(NameArg),
    /// Let workers claim jobs of a paused name again.
    Resume(NameArg),
    /// Remove finished jobs by status (default: cancelled, completed, error), or only those
    /// finished longer ago than `--older-than`.
    Remove(RemoveArgs),
    /// Remove the finished jobs older than their retention now, as workers do every
    /// --prune-interval.
    Prune(RetainArgs),
    /// Manage scheduler items.
    #[command(subcommand)]
    Schedule(ScheduleCommand),
    /// Preview crontab expressions.
    #[command(subcommand)]
    Cron(CronCommand),
    /// Create or update the store's schema, indexes or key layout.
    Migrate,
}

/// A job id argument.
#[derive(Debug, Args)]
pub struct IdArg {
    /// The job's id (24 hex digits).
    pub id: String,
}

/// A job name argument.
#[derive(Debug, Args)]
pub struct NameArg {
    /// The job name.
    pub name: String,
}

/// Arguments of `retry`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["id", "status"])))]
pub struct RetryArgs {
    /// The job's id (24 hex digits).
    #[arg(conflicts_with_all = ["status", "name"])]
    pub id: Option<String>,
    /// Retry every job with these statuses (error, cancelled; comma separated).
    #[arg(long, value_delimiter = ',')]
    pub status: Vec<String>,
    /// With --status: only jobs of this name.
    #[arg(long, requires = "status")]
    pub name: Option<String>,
}

/// How long finished jobs of one status are kept: a duration, or `forever`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keep(pub Option<Duration>);

/// Parses `24h`, `7d`, … or `forever`.
pub fn parse_keep(text: &str) -> Result<Keep, String> {
    if text.eq_ignore_ascii_case("forever") {
        return Ok(Keep(None));
    }
    parse_duration(text)
        .map(|d| Keep(Some(d)))
        .map_err(|e| format!("{e}; or 'forever'"))
}

/// Retention of finished jobs (R33): how long each final status is kept before pruning.
#[derive(Debug, Clone, Args)]
pub struct RetainArgs {
    /// How long completed jobs are kept (a duration, or `forever`).
    #[arg(long, default_value = "24h", value_parser = parse_keep)]
    pub retain_completed: Keep,
    /// How long cancelled jobs are kept (a duration, or `forever`).
    #[arg(long, default_value = "7d", value_parser = parse_keep)]
    pub retain_cancelled: Keep,
    /// How long jobs in error are kept (a duration, or `forever`).
    #[arg(long, default_value = "7d", value_parser = parse_keep)]
    pub retain_error: Keep,
}

impl RetainArgs {
    /// The retention these flags describe.
    pub fn retention(&self) -> remote_core::Retention {
        remote_core::Retention::default()
            .completed(self.retain_completed.0)
            .cancelled(self.retain_cancelled.0)
            .error(self.retain_error.0)
    }
}

/// How the job worker runs jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WorkerKindArg {
    /// One job at a time, in pull order.
    Simple,
    /// Up to --concurrency jobs at once.
    Multi,
}

/// Options of a job worker.
#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// Simple (one job at a time) or multi (up to --concurrency at once).
    #[arg(long, value_enum, default_value = "multi")]
    pub kind: WorkerKindArg,
    /// Jobs run at once by a multi worker (default: the CPU count).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrency: Option<u32>,
    /// Jobs claimed beyond the free slots and held until a slot frees, saving round trips
    /// when jobs are short (default: 0 for a simple worker, the concurrency for a multi one).
    /// Given alone, it is fixed.
    #[arg(long)]
    pub prefetch: Option<u32>,
    /// How far the prefetch may grow while short jobs leave slots waiting for claims
    /// (default: fixed for a simple worker, 1000 or the concurrency if larger for a multi
    /// one, unless --prefetch is given).
    #[arg(long)]
    pub max_prefetch: Option<u32>,
    /// Pause of an idle worker before it looks again (cut short when a job is added).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub wait_time: Duration,
    /// Processor name in logs (`<name>-worker`, `<name>-scheduler`).
    #[arg(long, default_value = "root")]
    pub name: String,
    /// Pull only jobs of these names (comma separated; default: every registered kind).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Pull `exec` jobs, which run programs on this machine (without it they stay queued).
    #[arg(long)]
    pub allow_exec: bool,
    /// How long a stop waits for running jobs before cancelling them.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub grace: Duration,
    /// Retention of finished jobs, pruned by the workers.
    #[command(flatten)]
    pub retain: RetainArgs,
    /// How often workers prune finished jobs older than their retention (one process at a time).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub prune_interval: Duration,
}

/// Options of the scheduler worker.
#[derive(Debug, Clone, Args)]
pub struct SchedulerArgs {
    /// Pause between scheduler passes.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub wait_time: Duration,
    /// Processor name in logs.
    #[arg(long, default_value = "root")]
    pub name: String,
}

/// Options of `serve` and `demo`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Job worker options.
    #[command(flatten)]
    pub worker: WorkerArgs,
    /// Dashboard address; binding off loopback requires --token.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Token every dashboard request must carry (`Authorization: Bearer …`, or `?token=` once in a browser).
    #[arg(long, env = "REMOTE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Pause between scheduler passes.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub scheduler_wait_time: Duration,
    /// Run no scheduler worker in this process.
    #[arg(long)]
    pub no_scheduler: bool,
}

/// Arguments of `add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// Job name (a registered kind: echo, sleep, exec, or your own).
    pub job: String,
    /// Input as JSON (default: the kind's default input); `-` reads it from stdin.
    pub input: Option<String>,
    /// Not run before this time (RFC 3339, e.g. 2030-01-01T12:00:00Z).
    #[arg(long, value_parser = parse_time, conflicts_with = "delay")]
    pub at: Option<DateTime<Utc>>,
    /// Not run before this long from now (e.g. 30s, 5m).
    #[arg(long = "in", value_parser = parse_duration)]
    pub delay: Option<Duration>,
    /// Attempts in all, the first included (default: the kind's, 3).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_attempts: Option<u32>,
    /// Pause after a failed attempt (default: the kind's, 10s).
    #[arg(long, value_parser = parse_duration)]
    pub retry_delay: Option<Duration>,
    /// Priority: higher runs first (default: the kind's, 0).
    #[arg(long, allow_negative_numbers = true)]
    pub priority: Option<i16>,
    /// Longest run of one attempt; past it the attempt fails as timed out (default: the kind's).
    #[arg(long, value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Unique key: while a job with this key is queued or processing, adding another adds
    /// nothing and prints the holder's id.
    #[arg(long, conflicts_with_all = ["unique_by", "unique_input"])]
    pub unique_key: Option<String>,
    /// Unique by the values of these input fields (comma separated).
    #[arg(long, value_delimiter = ',', conflicts_with = "unique_input")]
    pub unique_by: Vec<String>,
    /// Unique by the whole input.
    #[arg(long)]
    pub unique_input: bool,
    /// The statuses across which the unique key holds (default: queued,processing).
    #[arg(long, value_delimiter = ',')]
    pub unique_across: Vec<String>,
    /// Queue a job whose kind this program does not know (run by workers of another program).
    #[arg(long)]
    pub force: bool,
    /// Wait until the job finished; exit 1 if it ended in error or was cancelled.
    #[arg(long)]
    pub wait: bool,
    /// Give up waiting after this long (exit 1).
    #[arg(long, value_parser = parse_duration, requires = "wait")]
    pub wait_timeout: Option<Duration>,
}

/// Arguments of `jobs`.
#[derive(Debug, Args)]
pub struct JobsArgs {
    /// Only these statuses (comma separated: queued, processing, completed, cancelled, error).
    #[arg(long, value_delimiter = ',')]
    pub status: Vec<String>,
    /// Only jobs of this name.
    #[arg(long)]
    pub name: Option<String>,
    /// Jobs per page.
    #[arg(long, default_value_t = 20)]
    pub limit: u64,
    /// Page number, from 1.
    #[arg(long, default_value_t = 1)]
    pub page: u64,
    /// Oldest first instead of newest first.
    #[arg(long)]
    pub oldest_first: bool,
}

/// Arguments of `remove`.
#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// Statuses to remove (cancelled, completed, error; comma or space separated).
    #[arg(value_delimiter = ',')]
    pub statuses: Vec<String>,
    /// Statuses to remove, as an option (added to the positional ones).
    #[arg(long = "status", value_delimiter = ',')]
    pub status: Vec<String>,
    /// Only jobs that finished longer ago than this (e.g. 7d), removed in batches.
    #[arg(long, value_parser = parse_duration)]
    pub older_than: Option<Duration>,
}

/// `schedule …` subcommands.
#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Add an item: `--every 30s`, `--cron "*/5 * * * *" [--tz Zone]`, or lists `--minute 0,30 …`.
    Add(Box<ScheduleAddArgs>),
    /// List every item with its next call time.
    List,
    /// Show one item.
    Show(ItemIdArg),
    /// Pause an item (it stops firing).
    Pause(ItemIdArg),
    /// Resume an item (next call computed from now).
    Resume(ItemIdArg),
    /// Remove an item.
    Remove(ItemIdArg),
}

/// A scheduler item id argument.
#[derive(Debug, Args)]
pub struct ItemIdArg {
    /// The item's id (24 hex digits).
    pub id: String,
}

/// Arguments of `schedule add`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("rule").required(true).multiple(true).args(["every", "cron", "minute", "hour", "day_of_month", "month", "day_of_week"])))]
pub struct ScheduleAddArgs {
    /// Job name of the jobs it adds.
    pub job: String,
    /// Input of the jobs it adds, as JSON.
    pub input: Option<String>,
    /// Fire every this long (e.g. 30s, 5m, 1h; whole seconds).
    #[arg(long, value_parser = parse_duration, conflicts_with_all = ["cron", "minute", "hour", "day_of_month", "month", "day_of_week"])]
    pub every: Option<Duration>,
    /// Five-field crontab expression, e.g. "*/5 * * * *".
    #[arg(long, conflicts_with_all = ["minute", "hour", "day_of_month", "month", "day_of_week"])]
    pub cron: Option<String>,
    /// IANA time zone of --cron (default UTC).
    #[arg(long, requires = "cron")]
    pub tz: Option<String>,
    /// List rule: minutes 0-59.
    #[arg(long, value_delimiter = ',')]
    pub minute: Vec<u32>,
    /// List rule: hours 0-23.
    #[arg(long, value_delimiter = ',')]
    pub hour: Vec<u32>,
    /// List rule: days of the month 1-31.
    #[arg(long, value_delimiter = ',')]
    pub day_of_month: Vec<u32>,
    /// List rule: months 1-12.
    #[arg(long, value_delimiter = ',')]
    pub month: Vec<u32>,
    /// List rule: weekdays 0 = Monday … 6 = Sunday.
    #[arg(long, value_delimiter = ',')]
    pub day_of_week: Vec<u32>,
    /// First call at this time (RFC 3339) instead of the rule's first occurrence.
    #[arg(long, value_parser = parse_time)]
    pub first: Option<DateTime<Utc>>,
    /// How long a firing locks the item against other schedulers (default 5m).
    #[arg(long, value_parser = parse_duration)]
    pub lock_duration: Option<Duration>,
    /// What to do with occurrences reached late (after downtime): once (fire the due one once,
    /// the default), skip (fire nothing when more than 60s late) or each:N (fire each missed
    /// one, the earliest N).
    #[arg(long, value_parser = parse_misfire, value_name = "once|skip|each:N")]
    pub misfire: Option<Misfire>,
    /// Add it paused.
    #[arg(long)]
    pub paused: bool,
    /// Accept a job name this program does not know.
    #[arg(long)]
    pub force: bool,
}

/// `cron …` subcommands.
#[derive(Debug, Subcommand)]
pub enum CronCommand {
    /// Print the next occurrences of a crontab expression.
    Next(CronNextArgs),
}

/// Arguments of `cron next`.
#[derive(Debug, Args)]
pub struct CronNextArgs {
    /// Five-field crontab expression, e.g. "*/15 9-17 * * mon-fri".
    pub expression: String,
    /// IANA time zone (default UTC).
    #[arg(long)]
    pub tz: Option<String>,
    /// How many occurrences.
    #[arg(short = 'n', long = "count", default_value_t = 5)]
    pub count: usize,
    /// Start after this time (RFC 3339; default now).
    #[arg(long, value_parser = parse_time)]
    pub after: Option<DateTime<Utc>>,
}

/// Parses `30s`, `5m`, `1h 30m`, `250ms`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|e| format!("'{text}' is not a duration like 30s, 5m or 1h: {e}"))
}

/// Parses a misfire policy: `once`, `skip` or `each:N` (N at least 1).
pub fn parse_misfire(text: &str) -> Result<Misfire, String> {
    text.parse::<Misfire>().map_err(|e| match e {
        remote_core::Error::InvalidInput(message) => message,
        other => other.to_string(),
    })
}

/// Parses an RFC 3339 time such as `2030-01-01T12:00:00Z` into UTC.
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("'{text}' is not an RFC 3339 time like 2030-01-01T12:00:00Z: {e}"))
}
