//! MongoDB: the commands one claim sends, for claims of 1, 16 and 256 jobs, seen through the
//! driver's command monitoring. A claim is the same three commands whatever its size (a sorted
//! read of candidate ids, one `update`, a read back); the jobs are released after each claim,
//! so every claim meets the same queue.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use remote_core::{ClaimJobs, InsertJobs, Job, JobStore, Lease, LeaseToken, OnConflict};
use remote_mongo::mongodb::event::command::CommandEvent;
use remote_mongo::mongodb::event::EventHandler;
use remote_mongo::mongodb::options::ClientOptions;
use remote_mongo::mongodb::Client;
use remote_mongo::{MongoConfig, MongoStore};
use serde::Serialize;
use serde_json::Value;

use crate::target::Target;
use crate::{BenchResult, JOB};

/// Claim sizes measured.
pub(crate) const SIZES: [usize; 3] = [1, 16, 256];
/// Jobs queued while claiming.
const QUEUED: usize = 1_000;
/// Claims per size.
const ROUNDS: usize = 3;

/// The commands of the claims of one size.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ClaimCommands {
    /// Jobs asked for and taken by each claim.
    pub size: usize,
    /// Commands per claim, the most of any round.
    pub commands: usize,
    /// Their names in order, for the first claim.
    pub names: Vec<String>,
}

/// Counts the commands of claims of [`SIZES`] jobs with [`QUEUED`] jobs queued.
pub(crate) async fn claim_commands(target: &Target) -> BenchResult<Vec<ClaimCommands>> {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = seen.clone();
    let mut options = ClientOptions::parse(&target.url).await?;
    options.command_event_handler = Some(EventHandler::callback(move |event| {
        if let CommandEvent::Started(started) = event {
            log.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(started.command_name);
        }
    }));
    let client = Client::with_options(options)?;
    let space = target.space();
    let database = client.database(target.run_name());
    let store = MongoStore::open(
        database,
        MongoConfig::with_prefix(&space.prefix).change_streams(false),
    )
    .await?;
    let start = Utc::now() - TimeDelta::hours(1);
    let jobs: Vec<Job> = (0..QUEUED)
        .map(|i| {
            Job::queued(
                JOB,
                Value::Null,
                3,
                Duration::from_secs(10),
                start + TimeDelta::milliseconds(i64::try_from(i).unwrap_or(0)),
            )
        })
        .collect();
    store
        .insert_jobs(&InsertJobs {
            jobs: &jobs,
            on_conflict: OnConflict::Refuse,
        })
        .await?;
    let names = vec![JOB.to_string()];
    let mut measured = Vec::new();
    for size in SIZES {
        let mut row = ClaimCommands {
            size,
            commands: 0,
            names: Vec::new(),
        };
        for round in 0..ROUNDS {
            let token = LeaseToken::random();
            let now = Utc::now();
            seen.lock().unwrap_or_else(|e| e.into_inner()).clear();
            let claimed = store
                .claim_jobs(&ClaimJobs {
                    names: &names,
                    now,
                    lease_until: now + TimeDelta::seconds(30),
                    token,
                    limit: size,
                })
                .await?;
            let sent = std::mem::take(&mut *seen.lock().unwrap_or_else(|e| e.into_inner()));
            if claimed.len() != size {
                return Err(format!("a claim of {size} took {}", claimed.len()).into());
            }
            row.commands = row.commands.max(sent.len());
            if round == 0 {
                row.names = sent;
            }
            let leases: Vec<Lease> = claimed
                .into_iter()
                .map(|job| Lease { id: job.id, token })
                .collect();
            let released = store.release_jobs(&leases).await?;
            if released.iter().any(|r| !r) {
                return Err("a claimed job could not be released".into());
            }
        }
        measured.push(row);
    }
    Ok(measured)
}
