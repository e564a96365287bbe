//! `JobStore::insert_jobs` (R1, R15): new jobs are stored exactly as given; a stored id is
//! refused (nothing of the batch stored) or skipped (answered `false`).

use std::time::Duration;

use remote_core::{Error, InsertJobs, Inserted, Job, JobStatus, OnConflict, StatusSet};
use serde_json::json;

use super::{all_jobs, count, id, ids, insert, job, jobs, ms, stored, t};
use crate::calls::token;
use crate::support::{t0, TestStore};

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_store_insert_jobs {
    ($make:expr) => {
        $crate::__area!($make; store::insert_jobs {
            r1_new_jobs_are_stored_and_answered_true_in_order,
            r1_every_field_round_trips_to_the_millisecond,
            r1_refuse_fails_with_job_exists_and_keeps_the_stored_job,
            r1_refuse_stores_nothing_of_a_batch_with_one_stored_id,
            r1_refuse_stores_nothing_of_a_batch_repeating_an_id,
            r15_skip_leaves_stored_ids_out_and_answers_false_for_them,
            r15_skip_stores_an_id_repeated_in_one_batch_once,
            r1_an_empty_batch_stores_nothing,
            r1_a_large_batch_is_stored_whole,
            r27_a_job_whose_key_is_held_is_answered_with_the_holder,
            r27_a_key_is_held_only_in_the_statuses_it_is_unique_across,
            r27_a_key_repeated_in_one_batch_is_stored_once,
            r27_concurrent_inserts_of_one_key_store_one_job,
            r27_jobs_without_a_key_are_never_duplicates,
        });
    };
}

async fn insert_with(
    store: &TestStore,
    jobs: &[Job],
    on_conflict: OnConflict,
) -> remote_core::Result<Vec<bool>> {
    store
        .jobs
        .insert_jobs(&InsertJobs { jobs, on_conflict })
        .await
        .map(|answers| answers.iter().map(Inserted::is_stored).collect())
}

/// R1: a batch of new jobs is stored, each answered `true` in the order given, with either
/// conflict policy.
pub async fn r1_new_jobs_are_stored_and_answered_true_in_order(store: TestStore) {
    let batch = jobs(3);
    assert_eq!(
        insert_with(&store, &batch, OnConflict::Refuse)
            .await
            .unwrap(),
        vec![true, true, true]
    );
    let more: Vec<Job> = (4..=5).map(|n| job(n, t0() + ms(n as i64))).collect();
    assert_eq!(
        insert_with(&store, &more, OnConflict::Skip).await.unwrap(),
        vec![true, true]
    );
    let expected: Vec<Job> = batch.into_iter().chain(more).collect();
    assert_eq!(all_jobs(&*store.jobs).await, expected);
}

/// R1, R35 and Time: a job of each status, with every field set (times with milliseconds, a
/// retry delay with milliseconds, a negative token, nested input and output, a trace context), reads back
/// exactly as inserted, through `get_job` and `list_jobs`.
pub async fn r1_every_field_round_trips_to_the_millisecond(store: TestStore) {
    let base = t0() + ms(1234);
    let template = |n: u64, status: JobStatus| Job {
        status,
        attempt: 2,
        max_attempts: 7,
        retry_delay: Duration::from_millis(1_500),
        input: json!({"n": n, "nested": [1, "two", {"three": 3.25}], "none": null}),
        priority: -3 + n as i16,
        timeout: Some(Duration::from_millis(2_750)),
        snoozes: 4,
        trace_context: Some(format!("00-{:032x}-{:016x}-01", 0xabc0 + n, 0xdef0 + n)),
        ..job(n, base + ms(n as i64 * 1_001))
    };
    let queued = Job {
        not_before: Some(base + ms(60_001)),
        picked_at: Some(base + ms(999)),
        ..template(1, JobStatus::Queued)
    };
    let processing = Job {
        attempt: 1,
        picked_at: Some(base + ms(5_555)),
        lease_until: Some(base + ms(35_555)),
        lease_token: Some(token(-4_242)),
        ..template(2, JobStatus::Processing)
    };
    let completed = Job {
        output: Some(json!({"ok": true, "list": [null, 1.5, "é"]})),
        picked_at: Some(base + ms(7_007)),
        completed_at: Some(base + ms(7_777)),
        ..template(3, JobStatus::Completed)
    };
    let cancelled = Job {
        attempt: 0,
        unique_key: Some("key é ✓".to_owned()),
        unique_across: StatusSet::of(&[JobStatus::Completed, JobStatus::Error]),
        completed_at: Some(base + ms(8_008)),
        ..template(4, JobStatus::Cancelled)
    };
    let error = Job {
        attempt: 7,
        not_before: Some(base + ms(9_009)),
        picked_at: Some(base + ms(9_099)),
        completed_at: Some(base + ms(9_999)),
        ..template(5, JobStatus::Error)
    };
    let all = vec![queued, processing, completed, cancelled, error];
    insert(&*store.jobs, &all).await;
    for job in &all {
        assert_eq!(
            &stored(&*store.jobs, &job.id).await,
            job,
            "read back as given"
        );
    }
    assert_eq!(all_jobs(&*store.jobs).await, all, "listed as given");
    let counts = store.jobs.count_jobs().await.unwrap();
    for status in JobStatus::ALL {
        assert_eq!(count(&counts, status), 1, "{status}");
    }
}

/// R1: with `Refuse`, a job whose id is stored fails the call with `JobExists` naming it;
/// the stored job is unchanged.
pub async fn r1_refuse_fails_with_job_exists_and_keeps_the_stored_job(store: TestStore) {
    let first = Job {
        input: json!("first"),
        ..job(1, t(0))
    };
    insert(&*store.jobs, std::slice::from_ref(&first)).await;
    let again = Job {
        input: json!("second"),
        ..job(1, t(5))
    };
    match insert_with(&store, &[again], OnConflict::Refuse).await {
        Err(Error::JobExists(refused)) => assert_eq!(refused, first.id),
        other => panic!("expected JobExists, got {other:?}"),
    }
    assert_eq!(stored(&*store.jobs, &first.id).await, first);
    assert_eq!(all_jobs(&*store.jobs).await.len(), 1);
}

/// R1: with `Refuse`, a batch with one stored id stores none of its jobs, the new ones
/// before and after it included.
pub async fn r1_refuse_stores_nothing_of_a_batch_with_one_stored_id(store: TestStore) {
    let stored_job = job(2, t(0));
    insert(&*store.jobs, std::slice::from_ref(&stored_job)).await;
    let batch = vec![job(1, t(1)), job(2, t(1)), job(3, t(1))];
    match insert_with(&store, &batch, OnConflict::Refuse).await {
        Err(Error::JobExists(refused)) => assert_eq!(refused, id(2)),
        other => panic!("expected JobExists, got {other:?}"),
    }
    assert_eq!(
        all_jobs(&*store.jobs).await,
        vec![stored_job],
        "all or nothing"
    );
}

/// R1: with `Refuse`, a batch naming one id twice fails with `JobExists` for it and stores
/// none of its jobs.
pub async fn r1_refuse_stores_nothing_of_a_batch_repeating_an_id(store: TestStore) {
    let batch = vec![job(1, t(0)), job(2, t(0)), job(1, t(1))];
    match insert_with(&store, &batch, OnConflict::Refuse).await {
        Err(Error::JobExists(refused)) => assert_eq!(refused, id(1)),
        other => panic!("expected JobExists, got {other:?}"),
    }
    assert!(all_jobs(&*store.jobs).await.is_empty(), "all or nothing");
}

/// R15: with `Skip`, jobs whose id is stored are left out and answered `false`; the others
/// are stored and answered `true`, in the order given; the stored job is unchanged.
pub async fn r15_skip_leaves_stored_ids_out_and_answers_false_for_them(store: TestStore) {
    let first = Job {
        input: json!("first"),
        ..job(2, t(0))
    };
    insert(&*store.jobs, std::slice::from_ref(&first)).await;
    let batch = vec![
        job(1, t(1)),
        Job {
            input: json!("second"),
            ..job(2, t(1))
        },
        job(3, t(1)),
    ];
    assert_eq!(
        insert_with(&store, &batch, OnConflict::Skip).await.unwrap(),
        vec![true, false, true]
    );
    assert_eq!(stored(&*store.jobs, &id(2)).await, first);
    assert_eq!(stored(&*store.jobs, &id(1)).await, batch[0]);
    assert_eq!(stored(&*store.jobs, &id(3)).await, batch[2]);
    assert_eq!(all_jobs(&*store.jobs).await.len(), 3);
}

/// R15: with `Skip`, an id named twice in one batch is stored once, as its first entry, and
/// its second entry is answered `false`.
pub async fn r15_skip_stores_an_id_repeated_in_one_batch_once(store: TestStore) {
    let batch = vec![
        Job {
            input: json!("first"),
            ..job(1, t(0))
        },
        job(2, t(0)),
        Job {
            input: json!("second"),
            ..job(1, t(0))
        },
    ];
    assert_eq!(
        insert_with(&store, &batch, OnConflict::Skip).await.unwrap(),
        vec![true, true, false]
    );
    assert_eq!(stored(&*store.jobs, &id(1)).await, batch[0]);
    assert_eq!(ids(&all_jobs(&*store.jobs).await), vec![id(1), id(2)]);
}

/// R1: an empty batch is answered with no entries and stores nothing, with either policy.
pub async fn r1_an_empty_batch_stores_nothing(store: TestStore) {
    for on_conflict in [OnConflict::Refuse, OnConflict::Skip] {
        assert_eq!(
            insert_with(&store, &[], on_conflict).await.unwrap(),
            Vec::<bool>::new()
        );
    }
    assert!(all_jobs(&*store.jobs).await.is_empty());
}

/// R1: a batch of 2 000 jobs is stored whole in one call.
pub async fn r1_a_large_batch_is_stored_whole(store: TestStore) {
    let batch = jobs(2_000);
    assert_eq!(
        insert_with(&store, &batch, OnConflict::Refuse)
            .await
            .unwrap(),
        vec![true; 2_000]
    );
    let counts = store.jobs.count_jobs().await.unwrap();
    assert_eq!(count(&counts, JobStatus::Queued), 2_000);
    assert_eq!(ids(&all_jobs(&*store.jobs).await), ids(&batch));
}

/// A queued `echo` job `n` with unique key `key`, unique across `across`.
fn keyed(n: u64, key: &str, across: StatusSet) -> Job {
    Job {
        unique_key: Some(key.to_owned()),
        unique_across: across,
        ..job(n, t0() + ms(n as i64))
    }
}

async fn insert_answers(store: &TestStore, jobs: &[Job]) -> Vec<Inserted> {
    store
        .jobs
        .insert_jobs(&InsertJobs {
            jobs,
            on_conflict: OnConflict::Refuse,
        })
        .await
        .unwrap()
}

/// R27: a job whose unique key a stored job holds is not stored; the answer names the
/// holder, whatever the conflict policy, and the others of the batch are stored.
pub async fn r27_a_job_whose_key_is_held_is_answered_with_the_holder(store: TestStore) {
    insert_answers(&store, &[keyed(1, "k", StatusSet::LIVE)]).await;
    let answers = insert_answers(
        &store,
        &[
            keyed(2, "k", StatusSet::LIVE),
            keyed(3, "other", StatusSet::LIVE),
        ],
    )
    .await;
    assert_eq!(answers, vec![Inserted::Duplicate(id(1)), Inserted::Stored]);
    let skip = store
        .jobs
        .insert_jobs(&InsertJobs {
            jobs: &[keyed(4, "k", StatusSet::LIVE)],
            on_conflict: OnConflict::Skip,
        })
        .await
        .unwrap();
    assert_eq!(skip, vec![Inserted::Duplicate(id(1))]);
    assert_eq!(ids(&all_jobs(&*store.jobs).await), vec![id(1), id(3)]);
}

/// R27: a stored job holds its key only while its status is one of its `unique_across`: a
/// finished job frees a key held across queued and processing, and keeps one held across
/// completed too.
pub async fn r27_a_key_is_held_only_in_the_statuses_it_is_unique_across(store: TestStore) {
    let done = |n: u64, key: &str, across: StatusSet| Job {
        status: JobStatus::Completed,
        completed_at: Some(t(1)),
        ..keyed(n, key, across)
    };
    let with_completed = StatusSet::of(&[
        JobStatus::Queued,
        JobStatus::Processing,
        JobStatus::Completed,
    ]);
    insert(
        &*store.jobs,
        &[
            done(1, "free", StatusSet::LIVE),
            done(2, "kept", with_completed),
        ],
    )
    .await;
    let answers = insert_answers(
        &store,
        &[
            keyed(3, "free", StatusSet::LIVE),
            keyed(4, "kept", StatusSet::LIVE),
        ],
    )
    .await;
    assert_eq!(answers, vec![Inserted::Stored, Inserted::Duplicate(id(2))]);
    assert_eq!(
        stored(&*store.jobs, &id(3)).await.unique_key.as_deref(),
        Some("free")
    );
}

/// R27: two jobs of one key in one batch: the first is stored, the second answered with it.
pub async fn r27_a_key_repeated_in_one_batch_is_stored_once(store: TestStore) {
    let answers = insert_answers(
        &store,
        &[
            keyed(1, "k", StatusSet::LIVE),
            keyed(2, "k", StatusSet::LIVE),
            keyed(3, "k", StatusSet::LIVE),
        ],
    )
    .await;
    assert_eq!(
        answers,
        vec![
            Inserted::Stored,
            Inserted::Duplicate(id(1)),
            Inserted::Duplicate(id(1))
        ]
    );
    assert_eq!(all_jobs(&*store.jobs).await.len(), 1);
}

/// R27: inserts of one key racing on two handles store exactly one job, and every other
/// answer names it.
pub async fn r27_concurrent_inserts_of_one_key_store_one_job(store: TestStore) {
    let other = store.another_handle().await;
    let tasks: Vec<_> = (1..=12u64)
        .map(|n| {
            let jobs = if n % 2 == 0 {
                store.jobs.clone()
            } else {
                other.jobs.clone()
            };
            tokio::spawn(async move {
                jobs.insert_jobs(&InsertJobs {
                    jobs: &[keyed(n, "race", StatusSet::LIVE)],
                    on_conflict: OnConflict::Refuse,
                })
                .await
                .unwrap()
                .remove(0)
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    let stored_jobs = all_jobs(&*store.jobs).await;
    assert_eq!(stored_jobs.len(), 1, "one job of the key: {answers:?}");
    let holder = stored_jobs[0].id.clone();
    assert_eq!(answers.iter().filter(|a| a.is_stored()).count(), 1);
    for answer in answers.iter().filter(|a| !a.is_stored()) {
        assert_eq!(answer, &Inserted::Duplicate(holder.clone()));
    }
}

/// R27: jobs without a key are stored however many share an input.
pub async fn r27_jobs_without_a_key_are_never_duplicates(store: TestStore) {
    let same: Vec<Job> = (1..=3)
        .map(|n| Job {
            input: json!("same"),
            ..job(n, t(0))
        })
        .collect();
    let answers = insert_answers(&store, &same).await;
    assert_eq!(answers, vec![Inserted::Stored; 3]);
    assert_eq!(
        count(&store.jobs.count_jobs().await.unwrap(), JobStatus::Queued),
        3
    );
}
