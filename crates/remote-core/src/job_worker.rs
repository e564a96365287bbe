//! One running job worker, wired: a producer feeding executors, a completer storing their
//! outcomes, a lease keeper and a rescuer beside them (R10–R12, R24).

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::completer::Completer;
use crate::leases;
use crate::producer::{Producer, Settings};
use crate::retention;
use crate::shared::Shared;
use crate::worker::{WorkerConfig, WorkerKind};

/// Runs a job worker until `stop`, then stops it gracefully (R10): held jobs that never
/// started are released (R23), running ones get the grace period, then their handlers are
/// signalled and they are left to lease recovery.
pub(crate) async fn run(shared: Arc<Shared>, config: WorkerConfig, stop: CancellationToken) {
    let name = format!("{}-worker", shared.config.name);
    info!("Processor '{name}' started");
    let (completer, completing) = Completer::start(shared.clone());
    let keeping = CancellationToken::new();
    let keeper = {
        let shared = shared.clone();
        let keeping = keeping.clone();
        tokio::spawn(async move { leases::keep(&shared, keeping).await })
    };
    let settings = match config.kind {
        WorkerKind::Simple => Settings {
            concurrency: 1,
            prefetch: config.prefetch,
            max_prefetch: config.max_prefetch,
            in_order: true,
            wait_time: config.wait_time,
        },
        WorkerKind::Multi => Settings {
            concurrency: config.concurrency,
            prefetch: config.prefetch,
            max_prefetch: config.max_prefetch,
            in_order: false,
            wait_time: config.wait_time,
        },
    };
    let pruning = {
        let shared = shared.clone();
        let keeping = keeping.clone();
        tokio::spawn(async move { retention::keep_pruning(&shared, keeping).await })
    };
    let mut producer = Producer::new(shared.clone(), settings, completer);
    producer.run(&stop).await;
    producer.release_held().await;
    let running = producer.running();
    let drained = tokio::time::timeout(shared.config.grace, producer.drain()).await;
    if drained.is_err() {
        warn!(
            worker = %name,
            running,
            "stopped with jobs still running; they are signalled and left to lease recovery"
        );
        shared.cancel_running();
    }
    drop(producer);
    if tokio::time::timeout(shared.config.grace, completing)
        .await
        .is_err()
    {
        warn!(worker = %name, "outcomes still waiting to be stored at stop; their jobs are left to lease recovery");
    }
    keeping.cancel();
    let _ = keeper.await;
    let _ = pruning.await;
    info!("Processor '{name}' stopped");
}
