//! The story of m01.remote's doctests on the in-memory store: echo, errors, retries, removal, a Delay and a Cron
//! item firing, and the simple and multi workers. Run with `cargo run --example quickstart`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use remote::{
    handler_fn, typed_fn, CronLists, JobContext, JobError, JobFactory, ManualClock, MemoryStore,
    Processor, SchedulerItem, WorkerConfig,
};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
struct Sleep {
    seconds: f64,
    n: u32,
}

type Log = Arc<Mutex<Vec<u32>>>;

fn factories(done: &Log) -> Vec<JobFactory> {
    let done = done.clone();
    vec![
        JobFactory::new(
            "echo",
            handler_fn(|ctx: JobContext| async move { Ok::<_, JobError>(ctx.input) }),
        ),
        JobFactory::new(
            "error",
            handler_fn(|_ctx: JobContext| async move {
                Err::<Value, _>(JobError::permanent("An error occurred."))
            }),
        ),
        JobFactory::new(
            "fatal",
            handler_fn(|_ctx: JobContext| async move {
                Err::<Value, _>(JobError::retryable("A fatal error occurred."))
            }),
        ),
        JobFactory::new(
            "sleep",
            typed_fn(move |input: Sleep, _ctx: JobContext| {
                let done = done.clone();
                async move {
                    tokio::time::sleep(Duration::from_secs_f64(input.seconds)).await;
                    println!("      Job: {}", input.n);
                    done.lock()
                        .map_err(|_| JobError::permanent("log poisoned"))?
                        .push(input.n);
                    Ok::<_, JobError>(input.n)
                }
            }),
        ),
    ]
}

async fn run_workers(
    p: &Processor,
    worker: WorkerConfig,
    jobs: &[(f64, u32)],
    log: &Log,
) -> Result<Vec<u32>, remote::Error> {
    log.lock().expect("log").clear();
    for (seconds, n) in jobs {
        p.add_job("sleep", json!({"seconds": seconds, "n": n}))
            .await?;
    }
    p.set_worker(worker);
    p.start_processor();
    while log.lock().expect("log").len() < jobs.len() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    p.stop_processor().await;
    Ok(log.lock().expect("log").clone())
}

#[tokio::main]
async fn main() -> Result<(), remote::Error> {
    tracing_subscriber::fmt()
        .with_env_filter("remote_core=info")
        .with_target(false)
        .without_time()
        .init();

    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2010, 10, 1, 0, 0, 0).unwrap(),
    ));
    let p = Processor::builder(MemoryStore::new())
        .clock(clock.clone())
        .build();
    let log: Log = Arc::default();
    for factory in factories(&log) {
        p.register(factory)?;
    }
    let names: Vec<String> = p.factories().into_iter().map(|f| f.name).collect();
    println!("== Factories: {names:?}");

    println!("\n== Echo");
    let cancelled = p.add_job("echo", json!({"foo": "blah"})).await?;
    println!("added {cancelled}: {}", p.job_status(&cancelled).await?);
    println!("cancel it: {:?}", p.cancel_job(&cancelled).await?);
    let echo = p.add_job("echo", json!({"foo": "bar"})).await?;
    p.process_next_job().await?;
    println!(
        "job {echo}: {} → {}",
        p.job_status(&echo).await?,
        p.job_result(&echo).await?.unwrap_or_default()
    );

    println!("\n== A permanent error ends the job at once");
    let error = p.add_job("error", None).await?;
    p.process_next_job().await?;
    for record in p.job_errors(&error).await? {
        println!(
            "job {error}: {} after attempt {}: {}",
            p.job_status(&error).await?,
            record.attempt,
            record.message
        );
    }

    println!("\n== Any other error is retried, up to 3 attempts");
    let fatal = p.add_job("fatal", None).await?;
    for _ in 0..3 {
        p.process_next_job().await?;
        let job = p.get_job(&fatal).await?;
        println!(
            "attempt {}: status {}, retry at {:?}",
            job.attempt,
            job.status,
            job.not_before.map(|t| t.to_rfc3339())
        );
        clock.advance(Duration::from_secs(10));
    }
    println!("{} error records", p.job_errors(&fatal).await?.len());

    println!("\n== Removing finished jobs");
    p.add_job("echo", json!({"blah": "blah"})).await?;
    println!("removed: {:?}", p.remove_jobs(&[]).await?);
    println!("left: {:?}", p.count_jobs().await?);
    p.pull_next_job().await?;

    println!("\n== Scheduler items: a Delay every 10 s and a Cron at minutes 0 and 30");
    let delay = p
        .add_scheduler_item(SchedulerItem::delay("echo", 10).with_input(json!("every 10 s")))
        .await?;
    let cron = p
        .add_scheduler_item(
            SchedulerItem::cron(
                "echo",
                CronLists {
                    minute: vec![0, 30],
                    ..Default::default()
                },
            )
            .with_input(json!("cron")),
        )
        .await?;
    for step in 0..4 {
        clock.advance(Duration::from_secs(10 * 60 / 4));
        let added = p.fire_due_items().await?;
        let d = p.scheduler_item(&delay).await?;
        let c = p.scheduler_item(&cron).await?;
        println!(
            "at {}: {added} job(s) added; Delay next {}, Cron next {}",
            p.now().format("%H:%M:%S"),
            d.next_call_time
                .map(|t| t.format("%H:%M:%S").to_string())
                .unwrap_or_default(),
            c.next_call_time
                .map(|t| t.format("%H:%M:%S").to_string())
                .unwrap_or_default(),
        );
        if step == 1 {
            clock.advance(Duration::from_secs(30 * 60));
        }
    }
    p.remove_scheduler_item(&delay).await?;
    p.remove_scheduler_item(&cron).await?;

    let real = Processor::new(MemoryStore::new());
    for factory in factories(&log) {
        real.register(factory)?;
    }
    println!("\n== Simple worker: one job at a time, in order");
    let order = run_workers(
        &real,
        WorkerConfig::simple().wait_time(Duration::ZERO),
        &[(0.04, 1), (0.1, 2), (0.0, 3), (0.08, 4)],
        &log,
    )
    .await?;
    println!("finished in order {order:?}");

    println!("\n== Multi worker with 4 slots: all at once, shortest first");
    let order = run_workers(
        &real,
        WorkerConfig::multi(4).wait_time(Duration::ZERO),
        &[(0.3, 1), (0.4, 2), (0.1, 3), (0.5, 4)],
        &log,
    )
    .await?;
    println!("finished in order {order:?}");

    println!("\n== Multi worker with 2 slots: job 3 waits for a free slot");
    let order = run_workers(
        &real,
        WorkerConfig::multi(2).wait_time(Duration::ZERO),
        &[(0.3, 1), (0.4, 2), (0.2, 3), (0.5, 4)],
        &log,
    )
    .await?;
    println!("finished in order {order:?}");
    Ok(())
}
