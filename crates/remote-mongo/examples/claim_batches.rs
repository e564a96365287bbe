//! Measures claims of 1, 16 and 256 jobs with 1,000 jobs queued: the commands each claim sends
//! and how long it takes. After each claim the jobs are released, so every claim sees 1,000
//! queued jobs.
//!
//! ```sh
//! REMOTE_TEST_MONGODB_URL=mongodb://127.0.0.1:27018/?directConnection=true \
//!     cargo run --release -p remote-mongo --example claim_batches [ROUNDS]
//! ```

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use remote_core::{ClaimJobs, InsertJobs, Job, JobStore, Lease, LeaseToken, OnConflict, Result};
use remote_mongo::mongodb::event::command::CommandEvent;
use remote_mongo::mongodb::event::EventHandler;
use remote_mongo::mongodb::options::ClientOptions;
use remote_mongo::mongodb::Client;
use remote_mongo::{MongoConfig, MongoStore};

const QUEUED: i64 = 1_000;

#[tokio::main]
async fn main() -> Result<()> {
    let url = std::env::var("REMOTE_TEST_MONGODB_URL")
        .unwrap_or_else(|_| "mongodb://127.0.0.1:27018/?directConnection=true".to_owned());
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(30);
    let commands: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = commands.clone();
    let mut options = ClientOptions::parse(&url)
        .await
        .map_err(|e| remote_core::Error::store("parsing the URL", e))?;
    options.command_event_handler = Some(EventHandler::callback(move |event| {
        if let CommandEvent::Started(started) = event {
            log.lock().unwrap().push(started.command_name);
        }
    }));
    let client =
        Client::with_options(options).map_err(|e| remote_core::Error::store("connecting", e))?;
    let database = client.database(&format!("remote_claim_batches_{:x}", rand::random::<u32>()));
    let store = MongoStore::open(
        database.clone(),
        MongoConfig::default().change_streams(false),
    )
    .await?;

    let start = now() - TimeDelta::hours(1);
    let jobs: Vec<Job> = (0..QUEUED)
        .map(|i| {
            Job::queued(
                "echo",
                serde_json::json!({ "n": i }),
                3,
                Duration::from_secs(10),
                start + TimeDelta::milliseconds(i),
            )
        })
        .collect();
    store
        .insert_jobs(&InsertJobs {
            jobs: &jobs,
            on_conflict: OnConflict::Refuse,
        })
        .await?;
    let names = vec!["echo".to_owned()];

    println!("{QUEUED} jobs queued, {rounds} claims per size (after 3 unmeasured)");
    println!(
        "batch | commands per claim       | median ms | mean ms | p90 ms | µs per job (median)"
    );
    for limit in [1usize, 16, 256] {
        let mut times = Vec::with_capacity(rounds);
        let mut sent = None;
        for round in 0..rounds + 3 {
            let claim = ClaimJobs {
                names: &names,
                now: now(),
                lease_until: now() + TimeDelta::seconds(30),
                token: LeaseToken::random(),
                limit,
            };
            commands.lock().unwrap().clear();
            let started = Instant::now();
            let claimed = store.claim_jobs(&claim).await?;
            let took = started.elapsed();
            let names_sent = std::mem::take(&mut *commands.lock().unwrap());
            assert_eq!(claimed.len(), limit, "a full claim");
            if round >= 3 {
                times.push(took);
                match &sent {
                    None => sent = Some(names_sent),
                    Some(first) => assert_eq!(first, &names_sent, "the same commands each time"),
                }
            }
            let leases: Vec<Lease> = claimed
                .iter()
                .map(|j| Lease {
                    id: j.id.clone(),
                    token: claim.token,
                })
                .collect();
            store.release_jobs(&leases).await?;
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let median = times[times.len() / 2];
        let mean = times.iter().sum::<Duration>() / u32::try_from(times.len()).unwrap_or(1);
        let p90 = times[times.len() * 9 / 10];
        let sent = sent.unwrap_or_default();
        println!(
            "{limit:>5} | {:>2} {:<21} | {:>9.2} | {:>7.2} | {:>6.2} | {:>8.1}",
            sent.len(),
            sent.join(","),
            ms(median),
            ms(mean),
            ms(p90),
            ms(median) * 1e3 / limit as f64,
        );
    }
    database
        .drop()
        .await
        .map_err(|e| remote_core::Error::store("dropping the database", e))?;
    Ok(())
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap_or_default()
}
