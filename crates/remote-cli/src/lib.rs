//! remote-cli: the `remote` command of the remote job queue.
//!
//! One binary runs the queue (`serve`: job worker, scheduler worker and dashboard in one
//! process; `worker` and `scheduler` alone, so one scheduling process and many working
//! processes share one database) and operates it (`add`, `status`, `jobs`, `schedule …`,
//! `cron next`, `migrate`, …). The store comes from `--store URL` or `REMOTE_STORE`: SQLite,
//! PostgreSQL, MariaDB/MySQL, MongoDB, Redis or this process's memory (see [`store`]).
//!
//! Built-in job kinds are `echo`, `sleep` and, with `--allow-exec`, `exec`. Applications add
//! their own kinds and get the same command line from their own binary:
//!
//! ```no_run
//! use remote_core::{handler_fn, JobContext, JobError, JobFactory};
//!
//! #[tokio::main]
//! async fn main() -> std::process::ExitCode {
//!     remote_cli::App::new()
//!         .register(JobFactory::new(
//!             "resize",
//!             handler_fn(|ctx: JobContext| async move { Ok::<_, JobError>(ctx.input) }),
//!         ))
//!         .run()
//!         .await
//! }
//! ```
//!
//! Lower down, [`runtime::serve`], [`runtime::run_worker`] and [`runtime::run_scheduler`] run
//! a processor you built yourself, and [`dashboard::router`] is the dashboard as an axum router.

#![warn(missing_docs)]

pub mod cli;
pub mod commands;
pub mod dashboard;
pub mod demo;
pub mod error;
pub mod jobs;
pub mod metrics;
pub mod output;
pub mod runtime;
pub mod store;
pub mod telemetry;
pub mod timeline;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;
use remote_core::{FactoryInfo, JobFactory};

use crate::cli::{Cli, Command};
use crate::commands::Ctx;
use crate::error::{CliError, CliResult};

/// Jobs the demo's worker runs at once unless `--concurrency` says otherwise, so that its
/// sleeping jobs do not hold up the rest of the story on small machines.
const DEMO_CONCURRENCY: u32 = 8;

/// The `remote` command with the built-in job kinds and any registered by the application.
#[derive(Debug, Default, Clone)]
pub struct App {
    factories: Vec<JobFactory>,
}

impl App {
    /// The command with the built-in kinds only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a job kind; workers started by this program run it and `add` knows it. A kind
    /// named like a built-in one replaces it.
    pub fn register(mut self, factory: JobFactory) -> Self {
        self.factories
            .retain(|f| f.info().name != factory.info().name);
        self.factories.push(factory);
        self
    }

    /// The factories every processor of this program registers; workers pull `exec` only
    /// with `--allow-exec`.
    fn worker_factories(&self) -> Vec<JobFactory> {
        let mut all = self.factories.clone();
        for builtin in jobs::builtin_factories(true) {
            if !all.iter().any(|f| f.info().name == builtin.info().name) {
                all.push(builtin);
            }
        }
        all
    }

    /// Every kind this program knows, `exec` included (for adding and scheduling jobs).
    fn known(&self) -> Vec<FactoryInfo> {
        self.worker_factories()
            .iter()
            .map(|f| f.info().clone())
            .collect()
    }

    /// Parses the process's arguments, runs the command, prints any error; returns the exit code.
    pub async fn run(self) -> ExitCode {
        self.run_from(std::env::args_os()).await
    }

    /// Like [`App::run`] with the given arguments (the first is the program name).
    pub async fn run_from<I, T>(self, args: I) -> ExitCode
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let cli = match Cli::try_parse_from(args) {
            Ok(cli) => cli,
            Err(e) => {
                let _ = e.print();
                return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(error::EXIT_USAGE));
            }
        };
        let default_level = match cli.command {
            Command::Serve(_) | Command::Demo(_) | Command::Worker(_) | Command::Scheduler(_) => {
                "info"
            }
            _ => "warn",
        };
        let _telemetry = match telemetry::init(default_level, cli.log_format, cli.otlp().as_ref()) {
            Ok(guard) => guard,
            Err(e) => {
                eprintln!("remote: {}", e.message);
                return ExitCode::from(e.code);
            }
        };
        match self.execute(cli).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("remote: {}", e.message);
                ExitCode::from(e.code)
            }
        }
    }

    /// Runs a parsed command.
    pub async fn execute(self, cli: Cli) -> CliResult {
        let json = cli.json;
        match cli.command {
            Command::Cron(command) => commands::cron::run(json, command),
            Command::Migrate => {
                let (stores, done) =
                    tokio::time::timeout(cli.connect_timeout, store::migrate(&cli.store))
                        .await
                        .map_err(|_| {
                            CliError::store(format!(
                                "{}: no answer within {}",
                                store::redact(&cli.store),
                                humantime::format_duration(cli.connect_timeout)
                            ))
                        })??;
                if json {
                    output::print_json(
                        &serde_json::json!({"migrated": true, "store": stores.describe()}),
                    )
                } else {
                    println!("{done}");
                    Ok(())
                }
            }
            Command::Serve(args) => {
                let stores = store::open_within(&cli.store, cli.connect_timeout).await?;
                let factories = self.worker_factories();
                let processor = runtime::build_processor(
                    &stores,
                    &factories,
                    &args.worker,
                    args.scheduler_wait_time,
                )?;
                runtime::serve(processor, stores, &args, runtime::shutdown_signal()).await
            }
            Command::Demo(mut args) => {
                if args.worker.concurrency.is_none()
                    && args.worker.kind == cli::WorkerKindArg::Multi
                {
                    args.worker.concurrency = Some(DEMO_CONCURRENCY);
                }
                let stores = store::open_within(&cli.store, cli.connect_timeout).await?;
                let mut factories = self.worker_factories();
                factories.extend(demo::demo_factories());
                let processor = runtime::build_processor(
                    &stores,
                    &factories,
                    &args.worker,
                    args.scheduler_wait_time,
                )?;
                let told = demo::fill(&processor).await?;
                eprintln!("remote demo: added to {}:", stores.display);
                for line in &told {
                    eprintln!("  {line}");
                }
                eprintln!(
                    "Watch them move in the dashboard; try `remote jobs`, `remote stats`, `remote schedule list` in another terminal. Ctrl-C stops."
                );
                runtime::serve(processor, stores, &args, runtime::shutdown_signal()).await
            }
            Command::Worker(args) => {
                let stores = store::open_within(&cli.store, cli.connect_timeout).await?;
                let factories = self.worker_factories();
                let processor =
                    runtime::build_processor(&stores, &factories, &args, args.wait_time)?;
                tracing::info!(store = %stores.display, "remote worker running; Ctrl-C stops");
                runtime::run_worker(&processor, runtime::shutdown_signal()).await;
                Ok(())
            }
            Command::Scheduler(args) => {
                let stores = store::open_within(&cli.store, cli.connect_timeout).await?;
                let factories = self.worker_factories();
                let processor = runtime::build_scheduler(&stores, &factories, &args)?;
                tracing::info!(store = %stores.display, "remote scheduler running; Ctrl-C stops");
                runtime::run_scheduler(&processor, runtime::shutdown_signal()).await;
                Ok(())
            }
            Command::Prune(args) => {
                let ctx = Ctx {
                    stores: store::open_within(&cli.store, cli.connect_timeout).await?,
                    json,
                    factories: self.known(),
                };
                let processor =
                    runtime::build_pruner(&ctx.stores, &self.worker_factories(), &args)?;
                commands::jobs::prune(&ctx, &processor).await
            }
            command => {
                let ctx = Ctx {
                    stores: store::open_within(&cli.store, cli.connect_timeout).await?,
                    json,
                    factories: self.known(),
                };
                operate(&ctx, command).await
            }
        }
    }
}

async fn operate(ctx: &Ctx, command: Command) -> CliResult {
    use commands::jobs;
    match command {
        Command::Add(args) => jobs::add(ctx, args).await,
        Command::Status(arg) => jobs::status(ctx, &arg.id).await,
        Command::Result(arg) => jobs::result(ctx, &arg.id).await,
        Command::Errors(arg) => jobs::errors(ctx, &arg.id).await,
        Command::Jobs(args) => jobs::jobs(ctx, args).await,
        Command::Stats => jobs::stats(ctx).await,
        Command::Cancel(arg) => jobs::cancel(ctx, &arg.id).await,
        Command::Retry(args) => jobs::retry(ctx, args).await,
        Command::Pause(arg) => jobs::pause(ctx, &arg.name, true).await,
        Command::Resume(arg) => jobs::pause(ctx, &arg.name, false).await,
        Command::Remove(args) => jobs::remove(ctx, args).await,
        Command::Schedule(command) => commands::schedule::run(ctx, command).await,
        _ => Err(CliError::failure("this command does not operate on jobs")),
    }
}
