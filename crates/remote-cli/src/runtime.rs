//! Long-running modes: `serve` (job worker + scheduler + dashboard), `worker`, `scheduler`.
//! Library users build a processor with their own factories and call these from their binary.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use remote_core::{JobFactory, Processor, WorkerConfig};
use tracing::{info, warn};

use crate::cli::{RetainArgs, SchedulerArgs, ServeArgs, WorkerArgs, WorkerKindArg};
use crate::dashboard::{router, Dashboard, ProcessInfo};
use crate::error::{CliError, CliResult};
use crate::metrics::Metrics;
use crate::store::Stores;

/// The job worker the flags describe; `--concurrency` with `--kind simple` is a usage error
/// (a simple worker runs one job at a time).
pub fn worker_config(args: &WorkerArgs) -> CliResult<WorkerConfig> {
    let mut config = match (args.kind, args.concurrency) {
        (WorkerKindArg::Simple, None) => WorkerConfig::simple(),
        (WorkerKindArg::Simple, Some(_)) => {
            return Err(CliError::usage(
                "--concurrency applies to --kind multi; a simple worker runs one job at a time",
            ))
        }
        (WorkerKindArg::Multi, Some(n)) => WorkerConfig::multi(n as usize),
        (WorkerKindArg::Multi, None) => WorkerConfig::default(),
    };
    if let Some(prefetch) = args.prefetch {
        config = config.prefetch(prefetch as usize);
    }
    if let Some(max) = args.max_prefetch {
        config = config.max_prefetch(max as usize);
    }
    Ok(config.wait_time(args.wait_time))
}

/// The kinds a job worker with these flags pulls: `--only` (or every registered kind), without
/// `exec` unless `--allow-exec`. Other registered kinds can still be added and scheduled here.
pub fn pulled_names(registered: &[String], args: &WorkerArgs) -> Vec<String> {
    let mut names: Vec<String> = if args.only.is_empty() {
        registered.to_vec()
    } else {
        args.only.clone()
    };
    if !args.allow_exec {
        names.retain(|n| n != "exec");
    }
    names
}

/// A processor over the store with these factories and the worker the flags describe; it pulls
/// the kinds [`pulled_names`] gives.
pub fn build_processor(
    stores: &Stores,
    factories: &[JobFactory],
    args: &WorkerArgs,
    scheduler_wait_time: Duration,
) -> CliResult<Processor> {
    let registered: Vec<String> = factories.iter().map(|f| f.info().name.clone()).collect();
    let processor = Processor::builder_with(stores.jobs.clone(), stores.items.clone())
        .name(args.name.clone())
        .worker(worker_config(args)?)
        .grace(args.grace)
        .retention(args.retain.retention())
        .prune_interval(args.prune_interval)
        .scheduler_wait_time(scheduler_wait_time)
        .job_names(pulled_names(&registered, args))
        .build();
    for factory in factories {
        processor.register(factory.clone())?;
    }
    for name in &args.only {
        if !registered.contains(name) {
            warn!(
                job_name = %name,
                "--only names a job this program does not register; such jobs stay queued"
            );
        }
    }
    Ok(processor)
}

/// A processor for the scheduler worker alone. It registers the factories so that it may add
/// their jobs (an item of an unregistered name stays scheduled, R16); it runs none of them.
pub fn build_scheduler(
    stores: &Stores,
    factories: &[JobFactory],
    args: &SchedulerArgs,
) -> CliResult<Processor> {
    let processor = Processor::builder_with(stores.jobs.clone(), stores.items.clone())
        .name(args.name.clone())
        .scheduler_wait_time(args.wait_time)
        .build();
    for factory in factories {
        processor.register(factory.clone())?;
    }
    Ok(processor)
}

/// A processor that prunes with this retention (and each factory's own) and runs nothing.
pub fn build_pruner(
    stores: &Stores,
    factories: &[JobFactory],
    retain: &RetainArgs,
) -> CliResult<Processor> {
    let processor = Processor::builder_with(stores.jobs.clone(), stores.items.clone())
        .retention(retain.retention())
        .build();
    for factory in factories {
        processor.register(factory.clone())?;
    }
    Ok(processor)
}

/// The tasks that log each attempt at DEBUG and feed the OTLP metrics (when exported).
fn watch(processor: &Processor) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = vec![crate::telemetry::log_events(processor)];
    tasks.extend(crate::telemetry::watch(processor));
    tasks
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    info!("shutting down");
}

/// Runs the job worker until `shutdown` resolves, then stops it gracefully.
pub async fn run_worker(processor: &Processor, shutdown: impl Future<Output = ()>) {
    let metrics = Metrics::new();
    let collector = metrics.collect(processor);
    let watchers = watch(processor);
    processor.start_processor();
    shutdown.await;
    processor.stop_processor().await;
    collector.abort();
    watchers.into_iter().for_each(|w| w.abort());
}

/// Runs the scheduler worker until `shutdown` resolves.
pub async fn run_scheduler(processor: &Processor, shutdown: impl Future<Output = ()>) {
    processor.start_scheduler();
    shutdown.await;
    processor.stop_scheduler().await;
}

/// Refuses a dashboard address off loopback without a token.
pub fn check_bind(addr: SocketAddr, token: Option<&str>) -> CliResult {
    if !addr.ip().is_loopback() && token.is_none_or(str::is_empty) {
        return Err(CliError::usage(format!(
            "refusing to serve the dashboard on {addr} without a token: pass --token or set REMOTE_TOKEN (or bind 127.0.0.1)"
        )));
    }
    Ok(())
}

/// Runs the job worker (unless `worker` is `None`), the scheduler worker (unless told not to)
/// and the dashboard on `args.bind` until `shutdown` resolves. The first line on stdout is
/// `remote dashboard on http://ADDR/` with the address actually bound (port 0 picks a free one).
pub async fn serve(
    processor: Processor,
    stores: Stores,
    args: &ServeArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> CliResult {
    check_bind(args.bind, args.token.as_deref())?;
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|e| CliError::failure(format!("cannot listen on {}: {e}", args.bind)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::failure(format!("cannot read the bound address: {e}")))?;
    let metrics = Metrics::new();
    let collector = metrics.collect(&processor);
    let watchers = watch(&processor);
    let worker = worker_config(&args.worker)?;
    let registered: Vec<String> = processor.factories().into_iter().map(|f| f.name).collect();
    let dashboard = Dashboard::new(processor.clone(), stores, metrics)
        .with_token(args.token.clone())
        .with_process(ProcessInfo {
            worker: Some(worker),
            scheduler: !args.no_scheduler,
            pulls: pulled_names(&registered, &args.worker),
        });
    processor.start_processor();
    if !args.no_scheduler {
        processor.start_scheduler();
    }
    println!("remote dashboard on http://{addr}/");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    info!(%addr, "dashboard listening");
    let served = axum::serve(listener, router(dashboard))
        .with_graceful_shutdown(shutdown)
        .await;
    processor.stop_scheduler().await;
    processor.stop_processor().await;
    collector.abort();
    watchers.into_iter().for_each(|w| w.abort());
    served.map_err(|e| CliError::failure(format!("dashboard server failed: {e}")))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        worker: WorkerArgs,
    }

    fn config(flags: &[&str]) -> WorkerConfig {
        let flags = Flags::try_parse_from(std::iter::once("worker").chain(flags.iter().copied()))
            .expect("flags parse");
        worker_config(&flags.worker).expect("a worker config")
    }

    #[test]
    fn prefetch_flags_fix_the_prefetch_or_let_it_grow() {
        let grows = config(&["--concurrency", "4"]);
        assert_eq!((grows.prefetch, grows.max_prefetch), (4, 1000));
        let fixed = config(&["--concurrency", "4", "--prefetch", "2"]);
        assert_eq!((fixed.prefetch, fixed.max_prefetch), (2, 2));
        let ranged = config(&["--prefetch", "2", "--max-prefetch", "50"]);
        assert_eq!((ranged.prefetch, ranged.max_prefetch), (2, 50));
        let simple = config(&["--kind", "simple"]);
        assert_eq!((simple.prefetch, simple.max_prefetch), (0, 0));
    }
}
