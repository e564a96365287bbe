//! The same calls on this store and on the in-memory reference store give the same answers:
//! inserts with unique keys, claims by priority, outcomes, retries of dead jobs, listings under
//! every combination of status filters, name, order and paging (the merges of the per-status
//! indexes included), counts, expired leases and removals oldest first, by name too.

mod common;

use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use common::{fresh_store, ClearOnDrop};
use remote_core::{
    CancelJob, ClaimJobs, ErrorRecord, ExpiredLeases, InsertJobs, Inserted, Job, JobId, JobNames,
    JobQuery, JobStatus, JobStore, Lease, LeaseToken, OnConflict, Outcome, OutcomeKind, RemoveJobs,
    RetryJobs, StatusCounts, StatusSet,
};
use remote_memory::MemoryStore;
use serde_json::json;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

fn ids(jobs: &[Job]) -> Vec<JobId> {
    jobs.iter().map(|j| j.id.clone()).collect()
}

/// What a history's calls answered, to compare between stores.
#[derive(Debug, PartialEq)]
struct Answers {
    inserted: Vec<Inserted>,
    claimed: Vec<Job>,
    applied: Vec<bool>,
    retried: StatusCounts,
    claimed_again: Vec<Job>,
}

/// Applies one history of calls to `store`: jobs of three names with colliding `queued_at`,
/// priorities and unique keys (some duplicates), claims under two clocks, every kind of
/// outcome, a release, cancels, and a retry of the dead jobs.
async fn history(store: &dyn JobStore, jobs: &[Job]) -> Answers {
    let inserted = store
        .insert_jobs(&InsertJobs {
            jobs,
            on_conflict: OnConflict::Refuse,
        })
        .await
        .unwrap();
    let names: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
    let now = t0() + TimeDelta::minutes(1);
    let claim = |now: DateTime<Utc>, token: i64| ClaimJobs {
        names: &names,
        now,
        lease_until: now + TimeDelta::seconds(30),
        token: LeaseToken::from_i64(token),
        limit: 30,
    };
    let claimed = store.claim_jobs(&claim(now, 7)).await.unwrap();
    let outcomes: Vec<Outcome> = claimed
        .iter()
        .enumerate()
        .filter(|(n, _)| n % 6 != 4)
        .map(|(n, job)| {
            let at = now + TimeDelta::seconds((n % 7) as i64);
            Outcome {
                lease: Lease {
                    id: job.id.clone(),
                    token: LeaseToken::from_i64(7),
                },
                now: at,
                kind: match n % 6 {
                    0 => OutcomeKind::Completed { output: json!(n) },
                    1 => OutcomeKind::Retry {
                        record: ErrorRecord::new(1, "again", at),
                        not_before: at + TimeDelta::seconds(30),
                    },
                    2 => OutcomeKind::Failed {
                        record: ErrorRecord::new(1, "no", at),
                    },
                    5 => OutcomeKind::Snooze {
                        not_before: at + TimeDelta::seconds(20),
                    },
                    _ => OutcomeKind::Completed {
                        output: json!(null),
                    },
                },
            }
        })
        .collect();
    let applied = store.record_outcomes(&outcomes).await.unwrap();
    let released: Vec<Lease> = claimed
        .iter()
        .skip(4)
        .step_by(12)
        .map(|job| Lease {
            id: job.id.clone(),
            token: LeaseToken::from_i64(7),
        })
        .collect();
    store.release_jobs(&released).await.unwrap();
    for job in jobs.iter().step_by(9) {
        store
            .cancel_job(&CancelJob {
                id: &job.id,
                cancellable: &[JobStatus::Queued, JobStatus::Processing],
                now: now + TimeDelta::seconds(3),
            })
            .await
            .unwrap();
    }
    let retried = store
        .retry_jobs(&RetryJobs {
            ids: None,
            statuses: &[JobStatus::Error, JobStatus::Cancelled],
            names: JobNames::Except(&names[2..]),
            now: now + TimeDelta::seconds(4),
        })
        .await
        .unwrap();
    let claimed_again = store
        .claim_jobs(&claim(now + TimeDelta::seconds(25), 8))
        .await
        .unwrap();
    Answers {
        inserted,
        claimed,
        applied,
        retried,
        claimed_again,
    }
}

#[tokio::test]
async fn answers_match_the_reference_store() {
    let redis = fresh_store().await;
    let _clear = ClearOnDrop(redis.prefix().to_owned());
    let memory = MemoryStore::new();
    let jobs: Vec<Job> = (0..45)
        .map(|n| {
            let name = ["a", "b", "c"][n % 3];
            let at = t0() + TimeDelta::milliseconds((n / 4) as i64);
            let mut job = Job::queued(name, json!(n), 3, Duration::from_secs(10), at);
            job.priority = (n % 5) as i16 - 2;
            if n % 4 == 0 {
                job.unique_key = Some(format!("k{}", n % 3));
            }
            if n % 8 == 0 {
                job.unique_across = StatusSet::of(&[
                    JobStatus::Queued,
                    JobStatus::Processing,
                    JobStatus::Completed,
                ]);
            }
            job
        })
        .collect();
    let answers = history(&redis, &jobs).await;
    assert_eq!(answers, history(&memory, &jobs).await);
    assert!(answers
        .inserted
        .iter()
        .any(|a| matches!(a, Inserted::Duplicate(_))));
    assert!(answers.retried.values().sum::<u64>() > 0, "{answers:?}");

    let status_sets: Vec<Vec<JobStatus>> = vec![
        vec![],
        vec![JobStatus::Queued],
        vec![JobStatus::Completed, JobStatus::Error],
        vec![
            JobStatus::Cancelled,
            JobStatus::Processing,
            JobStatus::Queued,
        ],
        JobStatus::ALL.to_vec(),
    ];
    let mut compared = 0;
    for statuses in &status_sets {
        for job_name in [None, Some("a"), Some("c"), Some("none")] {
            for oldest_first in [false, true] {
                for offset in [0, 3, 17, 100] {
                    for limit in [None, Some(0), Some(1), Some(5), Some(100)] {
                        let query = JobQuery {
                            statuses: statuses.clone(),
                            job_name: job_name.map(String::from),
                            oldest_first,
                            offset,
                            limit,
                        };
                        let from_redis = redis.list_jobs(&query).await.unwrap();
                        let from_memory = memory.list_jobs(&query).await.unwrap();
                        assert_eq!(ids(&from_redis), ids(&from_memory), "{query:?}");
                        assert_eq!(from_redis, from_memory, "{query:?}");
                        compared += 1;
                    }
                }
            }
        }
    }
    assert_eq!(compared, 5 * 4 * 2 * 4 * 5);
    assert_eq!(
        redis.count_jobs().await.unwrap(),
        memory.count_jobs().await.unwrap()
    );
    for (at, limit) in [(0, 100), (30, 100), (31, 3), (31, 100)] {
        let query = ExpiredLeases {
            now: t0() + TimeDelta::minutes(1) + TimeDelta::seconds(at),
            limit,
        };
        let expired = redis.expired_leases(&query).await.unwrap();
        assert_eq!(
            expired,
            memory.expired_leases(&query).await.unwrap(),
            "{query:?}"
        );
        assert_eq!(expired.is_empty(), at < 30, "{query:?}");
    }
    // Each history made its own records (ids of their own): compare what they say.
    let said = |records: Option<Vec<ErrorRecord>>| {
        records.map(|r| {
            r.into_iter()
                .map(|r| (r.created, r.attempt, r.message))
                .collect::<Vec<_>>()
        })
    };
    for id in ids(&jobs) {
        assert_eq!(
            said(redis.job_errors(&id).await.unwrap()),
            said(memory.job_errors(&id).await.unwrap())
        );
    }
    let (a, c) = (["a".to_owned()], ["c".to_owned()]);
    for (names, finished_before, limit) in [
        (JobNames::Only(&a), Some(4), Some(1)),
        (JobNames::Except(&c), Some(3), Some(2)),
        (JobNames::All, None, Some(4)),
        (JobNames::Only(&c), Some(5), None),
        (JobNames::All, Some(5), None),
        (JobNames::All, None, None),
    ] {
        let remove = RemoveJobs {
            statuses: &JobStatus::REMOVABLE,
            names,
            finished_before: finished_before
                .map(|s| t0() + TimeDelta::minutes(1) + TimeDelta::seconds(s)),
            limit,
        };
        assert_eq!(
            redis.remove_jobs(&remove).await.unwrap(),
            memory.remove_jobs(&remove).await.unwrap(),
            "{names:?} {finished_before:?} {limit:?}"
        );
        let all = JobQuery::default();
        assert_eq!(
            ids(&redis.list_jobs(&all).await.unwrap()),
            ids(&memory.list_jobs(&all).await.unwrap())
        );
    }
}
