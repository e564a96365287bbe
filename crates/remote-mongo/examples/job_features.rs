//! Measures what the job features cost on a MongoDB server: claims of 1, 16 and 256 jobs
//! among 1,000 and 10,000 queued jobs of five priorities (each claim's jobs are released
//! again, so every claim sees the same queue), and inserts of jobs with and without unique
//! keys, alone and in batches of 100, and of jobs whose key is held.
//!
//! ```sh
//! REMOTE_TEST_MONGODB_URL=mongodb://127.0.0.1:27018/?directConnection=true \
//!     cargo run --release -p remote-mongo --example job_features [ROUNDS]
//! ```

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use remote_core::{
    ClaimJobs, InsertJobs, Inserted, Job, JobStatus, JobStore, Lease, LeaseToken, OnConflict,
    Result, StatusSet,
};
use remote_mongo::mongodb::Client;
use remote_mongo::{MongoConfig, MongoStore};

#[tokio::main]
async fn main() -> Result<()> {
    let url = std::env::var("REMOTE_TEST_MONGODB_URL")
        .unwrap_or_else(|_| "mongodb://127.0.0.1:27018/?directConnection=true".to_owned());
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(30);
    let client = Client::with_uri_str(&url)
        .await
        .map_err(|e| remote_core::Error::store("connecting", e))?;

    println!("claims with priorities: {rounds} per size (after 3 unmeasured)");
    println!("queued | batch | median ms | p90 ms | µs per job (median)");
    for queued in [1_000, 10_000] {
        let database = client.database(&format!("remote_job_features_{:x}", rand::random::<u32>()));
        let store = quiet(&database).await?;
        let start = now() - TimeDelta::hours(1);
        let jobs: Vec<Job> = (0..queued)
            .map(|i| Job {
                priority: i16::try_from(i % 5).unwrap_or(0) - 2,
                ..job(start + TimeDelta::milliseconds(i))
            })
            .collect();
        for batch in jobs.chunks(5_000) {
            store
                .insert_jobs(&InsertJobs {
                    jobs: batch,
                    on_conflict: OnConflict::Refuse,
                })
                .await?;
        }
        for limit in [1usize, 16, 256] {
            let times = measure(rounds, || claim_and_release(&store, limit)).await?;
            let (median, p90) = (ms(times[times.len() / 2]), ms(times[times.len() * 9 / 10]));
            println!(
                "{queued:>6} | {limit:>5} | {median:>9.2} | {p90:>6.2} | {:>8.1}",
                median * 1e3 / limit as f64
            );
        }
        drop_database(&database).await?;
    }

    println!();
    println!("inserts: {rounds} calls per kind (after 3 unmeasured)");
    println!("kind                              | median ms | p90 ms | µs per job (median)");
    let database = client.database(&format!("remote_job_features_{:x}", rand::random::<u32>()));
    let store = quiet(&database).await?;
    let held = Job {
        unique_key: Some("held".to_owned()),
        unique_across: StatusSet::LIVE,
        ..job(now())
    };
    store
        .insert_jobs(&InsertJobs {
            jobs: std::slice::from_ref(&held),
            on_conflict: OnConflict::Refuse,
        })
        .await?;
    for (kind, size, keyed, duplicate) in [
        ("1 job, no key", 1, false, false),
        ("1 job, a free key", 1, true, false),
        ("1 job, a held key (duplicate)", 1, true, true),
        ("100 jobs, no keys", 100, false, false),
        ("100 jobs, free keys", 100, true, false),
        ("100 jobs, held keys (duplicates)", 100, true, true),
    ] {
        let times = measure(rounds, || {
            let jobs: Vec<Job> = (0..size)
                .map(|_| {
                    let key = if duplicate {
                        "held".to_owned()
                    } else {
                        format!("k{:x}", rand::random::<u64>())
                    };
                    Job {
                        unique_key: keyed.then_some(key),
                        unique_across: StatusSet::LIVE,
                        ..job(now())
                    }
                })
                .collect();
            let store = &store;
            let holder = held.id.clone();
            async move {
                let started = Instant::now();
                let answers = store
                    .insert_jobs(&InsertJobs {
                        jobs: &jobs,
                        on_conflict: OnConflict::Refuse,
                    })
                    .await?;
                let took = started.elapsed();
                let expected = if duplicate {
                    Inserted::Duplicate(holder)
                } else {
                    Inserted::Stored
                };
                assert!(answers.iter().all(|a| *a == expected), "{answers:?}");
                Ok(took)
            }
        })
        .await?;
        let (median, p90) = (ms(times[times.len() / 2]), ms(times[times.len() * 9 / 10]));
        println!(
            "{kind:<33} | {median:>9.2} | {p90:>6.2} | {:>8.1}",
            median * 1e3 / size as f64
        );
    }
    drop_database(&database).await
}

/// A store without a change stream (nothing else reads on the client while measuring).
async fn quiet(database: &remote_mongo::mongodb::Database) -> Result<MongoStore> {
    MongoStore::open(
        database.clone(),
        MongoConfig::default().change_streams(false),
    )
    .await
}

async fn drop_database(database: &remote_mongo::mongodb::Database) -> Result<()> {
    database
        .drop()
        .await
        .map_err(|e| remote_core::Error::store("dropping the database", e))
}

/// Claims `limit` jobs, checks they come in pull order, and hands them back; the time of the
/// claim.
async fn claim_and_release(store: &MongoStore, limit: usize) -> Result<Duration> {
    let names = ["echo".to_owned()];
    let claim = ClaimJobs {
        names: &names,
        now: now(),
        lease_until: now() + TimeDelta::seconds(30),
        token: LeaseToken::random(),
        limit,
    };
    let started = Instant::now();
    let claimed = store.claim_jobs(&claim).await?;
    let took = started.elapsed();
    assert_eq!(claimed.len(), limit, "a full claim");
    assert!(
        claimed.windows(2).all(|w| w[0].priority >= w[1].priority),
        "highest priority first"
    );
    assert!(claimed.iter().all(|j| j.status == JobStatus::Processing));
    let leases: Vec<Lease> = claimed
        .iter()
        .map(|j| Lease {
            id: j.id.clone(),
            token: claim.token,
        })
        .collect();
    store.release_jobs(&leases).await?;
    Ok(took)
}

/// The times `f` reports for `rounds` runs after 3 unmeasured ones, sorted.
async fn measure<F, Fut>(rounds: usize, mut f: F) -> Result<Vec<Duration>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Duration>>,
{
    let mut times = Vec::with_capacity(rounds);
    for round in 0..rounds + 3 {
        let took = f().await?;
        if round >= 3 {
            times.push(took);
        }
    }
    times.sort();
    Ok(times)
}

fn job(at: DateTime<Utc>) -> Job {
    Job::queued(
        "echo",
        serde_json::json!(null),
        3,
        Duration::from_secs(10),
        at,
    )
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap_or_default()
}
