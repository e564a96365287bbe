//! `JobStore::record_outcomes` (R3, R4, R9): each entry ends its attempt as its kind says,
//! only under the attempt's own token, and answers in the order of the entries.

use remote_core::{ErrorRecord, Job, JobStatus, Outcome};
use serde_json::json;

use super::{
    claim, claim_one, completed, failed, id, ids, insert, job, jobs, ms, record_of, records,
    retried, secs, stored, t,
};
use crate::calls::{cancel, token};
use crate::support::{t0, TestStore, PATIENCE};

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_store_record_outcomes {
    ($make:expr) => {
        $crate::__area!($make; store::record_outcomes {
            r3_completed_stores_output_and_completed_at_and_clears_the_lease,
            r3_retry_appends_the_record_and_requeues_at_not_before_keeping_queued_at,
            r3_failed_appends_the_record_and_ends_in_error,
            r3_a_retried_job_keeps_its_place_in_line,
            r3_error_records_are_kept_exactly_and_in_order,
            r3_error_text_of_any_content_is_kept_exactly,
            r9_each_entry_is_fenced_on_its_own,
            r9_one_batch_may_mix_every_kind,
            r9_an_empty_batch_answers_nothing,
            r9_a_repeated_outcome_applies_once,
            r9_racing_outcomes_of_one_attempt_apply_once,
            r29_a_snooze_requeues_without_an_attempt_or_a_record,
        });
    };
}

/// R3: `Completed` stores the output, `completed_at = now`, and clears the lease; nothing
/// else changes and no record is added.
pub async fn r3_completed_stores_output_and_completed_at_and_clears_the_lease(store: TestStore) {
    insert(&*store.jobs, &jobs(1)).await;
    let claimed = claim_one(&*store.jobs, t(1), token(5)).await;
    let now = t0() + ms(2_345);
    let output = json!({"out": [1, 2.5, "three"]});
    assert_eq!(
        store
            .jobs
            .record_outcomes(&[completed(&id(1), token(5), output.clone(), now)])
            .await
            .unwrap(),
        vec![true]
    );
    let expected = Job {
        status: JobStatus::Completed,
        output: Some(output),
        completed_at: Some(now),
        lease_until: None,
        lease_token: None,
        ..claimed
    };
    assert_eq!(stored(&*store.jobs, &id(1)).await, expected);
    assert!(records(&*store.jobs, &id(1)).await.is_empty());
}

/// R3: `Retry` appends the record and puts the job back to `queued`, not pulled before
/// `not_before`, keeping its `queued_at` and attempt count; the lease is cleared.
pub async fn r3_retry_appends_the_record_and_requeues_at_not_before_keeping_queued_at(
    store: TestStore,
) {
    insert(&*store.jobs, &jobs(1)).await;
    let claimed = claim_one(&*store.jobs, t(1), token(5)).await;
    let now = t0() + ms(2_345);
    let not_before = now + ms(10_001);
    let outcome = retried(&id(1), token(5), 1, "failed: the cause", not_before, now);
    assert_eq!(
        store
            .jobs
            .record_outcomes(std::slice::from_ref(&outcome))
            .await
            .unwrap(),
        vec![true]
    );
    let expected = Job {
        status: JobStatus::Queued,
        not_before: Some(not_before),
        lease_until: None,
        lease_token: None,
        ..claimed
    };
    assert_eq!(stored(&*store.jobs, &id(1)).await, expected);
    assert_eq!(
        records(&*store.jobs, &id(1)).await,
        vec![record_of(&outcome).unwrap()]
    );
}

/// R3: `Failed` appends the record and ends the job in `error` with `completed_at = now`;
/// the lease is cleared.
pub async fn r3_failed_appends_the_record_and_ends_in_error(store: TestStore) {
    insert(&*store.jobs, &jobs(1)).await;
    let claimed = claim_one(&*store.jobs, t(1), token(5)).await;
    let now = t0() + ms(2_345);
    let outcome = failed(&id(1), token(5), 1, "a permanent error", now);
    assert_eq!(
        store
            .jobs
            .record_outcomes(std::slice::from_ref(&outcome))
            .await
            .unwrap(),
        vec![true]
    );
    let expected = Job {
        status: JobStatus::Error,
        completed_at: Some(now),
        lease_until: None,
        lease_token: None,
        ..claimed
    };
    assert_eq!(stored(&*store.jobs, &id(1)).await, expected);
    assert_eq!(
        records(&*store.jobs, &id(1)).await,
        vec![record_of(&outcome).unwrap()]
    );
}

/// R2, R3: once its `not_before` has passed, a retried job is claimed before jobs queued
/// after it, and not before that.
pub async fn r3_a_retried_job_keeps_its_place_in_line(store: TestStore) {
    insert(&*store.jobs, &jobs(3)).await;
    claim_one(&*store.jobs, t(1), token(1)).await;
    let outcome = retried(&id(1), token(1), 1, "again", t(5), t(1));
    assert_eq!(
        store.jobs.record_outcomes(&[outcome]).await.unwrap(),
        vec![true]
    );
    assert_eq!(claim_one(&*store.jobs, t(1), token(2)).await.id, id(2));
    assert_eq!(
        ids(&claim(&*store.jobs, t(5), token(3), 10).await),
        vec![id(1), id(3)]
    );
}

/// R3: a job failing four attempts keeps four records, each exactly as written, in order;
/// the last ends it in `error` with `completed_at`.
pub async fn r3_error_records_are_kept_exactly_and_in_order(store: TestStore) {
    let four = Job {
        max_attempts: 4,
        ..job(1, t0())
    };
    insert(&*store.jobs, &[four]).await;
    let mut written = Vec::new();
    for attempt in 1..=4u32 {
        let now = t0() + ms(1_234 * i64::from(attempt) + 7);
        let token = token(1_000 + i64::from(attempt));
        let claimed = claim_one(&*store.jobs, now, token).await;
        assert_eq!(claimed.attempt, attempt);
        let record = ErrorRecord::new(attempt, format!("failure number {attempt} ✗"), now);
        let retry_at = (attempt < 4).then_some(now);
        written.push(record.clone());
        let outcome = crate::calls::failure(&id(1), token, record, retry_at, now);
        assert_eq!(
            store.jobs.record_outcomes(&[outcome]).await.unwrap(),
            vec![true]
        );
        let job = stored(&*store.jobs, &id(1)).await;
        let status = if attempt < 4 {
            JobStatus::Queued
        } else {
            JobStatus::Error
        };
        assert_eq!(job.status, status);
        assert_eq!(job.lease_token, None);
        assert_eq!(
            records(&*store.jobs, &id(1)).await,
            written,
            "after attempt {attempt}"
        );
    }
    let done = stored(&*store.jobs, &id(1)).await;
    assert_eq!(done.completed_at, Some(t0() + ms(1_234 * 4 + 7)));
}

/// R3, R22: error texts with NUL, control characters, unicode, quotes, operator-like words
/// and 64 KiB of text are kept byte for byte.
pub async fn r3_error_text_of_any_content_is_kept_exactly(store: TestStore) {
    let texts = [
        "nul \u{0} inside".to_string(),
        "control \u{1}\u{1f}\u{7f} and tab\t newline\n".to_string(),
        "naïve 日本語 😀 \u{202e}rtl \u{10FFFF}".to_string(),
        "'; DROP TABLE jobs; -- \"quoted\" `back` \\".to_string(),
        "{\"$where\": \"sleep(1000)\", \"a.b\": 1}".to_string(),
        "x".repeat(64 * 1024),
        String::new(),
    ];
    let job = Job {
        max_attempts: texts.len() as u32,
        ..job(1, t0())
    };
    insert(&*store.jobs, &[job]).await;
    let mut written = Vec::new();
    for (n, text) in texts.iter().enumerate() {
        let attempt = n as u32 + 1;
        let now = t(attempt as i64);
        let token = token(attempt as i64);
        claim_one(&*store.jobs, now, token).await;
        let record = ErrorRecord::new(attempt, text.clone(), now);
        written.push(record.clone());
        let outcome = crate::calls::failure(&id(1), token, record, Some(now), now);
        assert_eq!(
            store.jobs.record_outcomes(&[outcome]).await.unwrap(),
            vec![true]
        );
    }
    let read = records(&*store.jobs, &id(1)).await;
    assert_eq!(read.len(), written.len());
    for (got, want) in read.iter().zip(&written) {
        assert!(got == want, "record {} changed", want.attempt);
    }
}

/// R4, R8, R9: in one batch each entry applies only to a job `processing` under its own
/// token: a wrong token, a cancelled job, a job completed already, a job never claimed and
/// an unknown id are answered `false` and left unchanged, while the other entries apply;
/// answers come in the order of the entries, and repeating the batch applies nothing.
pub async fn r9_each_entry_is_fenced_on_its_own(store: TestStore) {
    insert(&*store.jobs, &jobs(5)).await;
    let (a, b) = (token(777), token(778));
    assert_eq!(claim(&*store.jobs, t(1), a, 4).await.len(), 4);
    assert_eq!(
        cancel(&*store.jobs, &id(3), t(2)).await.unwrap(),
        Some(JobStatus::Processing)
    );
    assert_eq!(
        store
            .jobs
            .record_outcomes(&[completed(&id(4), a, json!("first"), t(2))])
            .await
            .unwrap(),
        vec![true]
    );
    let before: Vec<Job> = futures::future::join_all((2..=5).map(|n| {
        let jobs = store.jobs.clone();
        async move { stored(&*jobs, &id(n)).await }
    }))
    .await;
    let now = t(3);
    let batch = vec![
        completed(&id(1), a, json!({"out": 1}), now),
        completed(&id(2), b, json!("wrong token"), now),
        retried(&id(3), a, 1, "after the cancel", now, now),
        failed(&id(4), a, 1, "after the completion", now),
        completed(&id(5), a, json!("never claimed"), now),
        completed(&id(99), a, json!("unknown"), now),
        retried(&id(2), a, 1, "the right token", t(10), now),
    ];
    assert_eq!(
        store.jobs.record_outcomes(&batch).await.unwrap(),
        vec![true, false, false, false, false, false, true]
    );
    let one = stored(&*store.jobs, &id(1)).await;
    assert_eq!(one.status, JobStatus::Completed);
    assert_eq!(one.output, Some(json!({"out": 1})));
    let two = stored(&*store.jobs, &id(2)).await;
    assert_eq!(two.status, JobStatus::Queued);
    assert_eq!(two.not_before, Some(t(10)));
    assert_eq!(records(&*store.jobs, &id(2)).await.len(), 1);
    for (n, was) in (3..=5).zip(&before[1..]) {
        assert_eq!(
            &stored(&*store.jobs, &id(n)).await,
            was,
            "job {n} unchanged"
        );
        assert!(records(&*store.jobs, &id(n)).await.is_empty());
    }
    assert_eq!(store.jobs.get_job(&id(99)).await.unwrap(), None);
    assert_eq!(
        store.jobs.record_outcomes(&batch).await.unwrap(),
        vec![false; batch.len()],
        "a repeated batch applies nothing"
    );
    assert_eq!(records(&*store.jobs, &id(2)).await.len(), 1);
}

/// R3, R9: one batch may complete, retry and fail different attempts; each applies as its
/// kind says.
pub async fn r9_one_batch_may_mix_every_kind(store: TestStore) {
    insert(&*store.jobs, &jobs(3)).await;
    assert_eq!(claim(&*store.jobs, t(1), token(1), 3).await.len(), 3);
    let now = t(2);
    let batch = vec![
        failed(&id(3), token(1), 1, "for good", now),
        completed(&id(1), token(1), json!("done"), now),
        retried(&id(2), token(1), 1, "once more", t(12), now),
    ];
    assert_eq!(
        store.jobs.record_outcomes(&batch).await.unwrap(),
        vec![true, true, true]
    );
    let statuses: Vec<JobStatus> = futures::future::join_all((1..=3).map(|n| {
        let jobs = store.jobs.clone();
        async move { stored(&*jobs, &id(n)).await.status }
    }))
    .await;
    assert_eq!(
        statuses,
        vec![JobStatus::Completed, JobStatus::Queued, JobStatus::Error]
    );
    assert_eq!(
        records(&*store.jobs, &id(2)).await,
        vec![record_of(&batch[2]).unwrap()]
    );
    assert_eq!(
        records(&*store.jobs, &id(3)).await,
        vec![record_of(&batch[0]).unwrap()]
    );
}

/// R9: an empty batch is answered with no entries.
pub async fn r9_an_empty_batch_answers_nothing(store: TestStore) {
    insert(&*store.jobs, &jobs(1)).await;
    claim_one(&*store.jobs, t(1), token(1)).await;
    let before = stored(&*store.jobs, &id(1)).await;
    assert_eq!(
        store.jobs.record_outcomes(&[]).await.unwrap(),
        Vec::<bool>::new()
    );
    assert_eq!(stored(&*store.jobs, &id(1)).await, before);
}

/// R9: an outcome sent twice (a retried store call) applies once: the second failure adds no
/// record, the second completion does not overwrite the first, and a failure after a
/// completion changes nothing.
pub async fn r9_a_repeated_outcome_applies_once(store: TestStore) {
    insert(&*store.jobs, &jobs(2)).await;
    let now = t(1);
    let token = token(5);
    assert_eq!(claim(&*store.jobs, now, token, 2).await.len(), 2);
    let failure = retried(&id(1), token, 1, "failed once", now, now);
    for expected in [true, false] {
        assert_eq!(
            store
                .jobs
                .record_outcomes(std::slice::from_ref(&failure))
                .await
                .unwrap(),
            vec![expected]
        );
    }
    assert_eq!(records(&*store.jobs, &id(1)).await.len(), 1);
    let queued = stored(&*store.jobs, &id(1)).await;
    assert_eq!(queued.status, JobStatus::Queued);
    assert_eq!(queued.attempt, 1);
    let first = completed(&id(2), token, json!("first"), now);
    let second = completed(&id(2), token, json!("second"), now + secs(5));
    assert_eq!(
        store.jobs.record_outcomes(&[first]).await.unwrap(),
        vec![true]
    );
    assert_eq!(
        store.jobs.record_outcomes(&[second]).await.unwrap(),
        vec![false]
    );
    let late_failure = failed(&id(2), token, 1, "late", now);
    assert_eq!(
        store.jobs.record_outcomes(&[late_failure]).await.unwrap(),
        vec![false]
    );
    let done = stored(&*store.jobs, &id(2)).await;
    assert_eq!(done.status, JobStatus::Completed);
    assert_eq!(done.output, Some(json!("first")));
    assert_eq!(done.completed_at, Some(now));
    assert!(records(&*store.jobs, &id(2)).await.is_empty());
}

/// R9: eight calls racing to end one attempt through two handles (four completions, four
/// failures) apply exactly once, and the stored outcome is the winner's.
pub async fn r9_racing_outcomes_of_one_attempt_apply_once(store: TestStore) {
    let other = store.another_handle().await;
    insert(&*store.jobs, &jobs(1)).await;
    let now = t(1);
    let token = token(77);
    claim_one(&*store.jobs, now, token).await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let jobs = if i % 4 < 2 {
                store.jobs.clone()
            } else {
                other.jobs.clone()
            };
            tokio::spawn(async move {
                let outcome: Outcome = if i % 2 == 0 {
                    completed(&id(1), token, json!({ "winner": i }), now)
                } else {
                    retried(
                        &id(1),
                        token,
                        1,
                        &format!("failure {i}"),
                        now + secs(10),
                        now,
                    )
                };
                let applied = jobs.record_outcomes(&[outcome]).await.unwrap();
                (i, applied == vec![true])
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (i, applied) = tokio::time::timeout(PATIENCE, task).await.unwrap().unwrap();
        if applied {
            winners.push(i);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one outcome applied: {winners:?}");
    let winner = winners[0];
    let job = stored(&*store.jobs, &id(1)).await;
    let errors = records(&*store.jobs, &id(1)).await;
    if winner % 2 == 0 {
        assert_eq!(job.status, JobStatus::Completed);
        assert_eq!(job.output, Some(json!({ "winner": winner })));
        assert!(errors.is_empty(), "{errors:?}");
    } else {
        assert_eq!(job.status, JobStatus::Queued);
        assert_eq!(job.output, None);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].message, format!("failure {winner}"));
    }
}

/// R29: a snooze puts the job back in the queue until `not_before`, gives the attempt back
/// (`attempt - 1`), counts the snooze and appends no record; its place in line is kept.
pub async fn r29_a_snooze_requeues_without_an_attempt_or_a_record(store: TestStore) {
    insert(&*store.jobs, &jobs(2)).await;
    let first = claim_one(&*store.jobs, t(1), token(1)).await;
    assert_eq!(first.attempt, 1);
    let snooze = remote_core::Outcome {
        lease: crate::calls::lease(&first.id, token(1)),
        now: t(2),
        kind: remote_core::OutcomeKind::Snooze { not_before: t(60) },
    };
    assert_eq!(
        store
            .jobs
            .record_outcomes(std::slice::from_ref(&snooze))
            .await
            .unwrap(),
        vec![true]
    );
    let job = stored(&*store.jobs, &first.id).await;
    assert_eq!(job.status, JobStatus::Queued);
    assert_eq!((job.attempt, job.snoozes), (0, 1));
    assert_eq!(job.not_before, Some(t(60)));
    assert_eq!((job.lease_until, job.lease_token), (None, None));
    assert_eq!(job.queued_at, first.queued_at);
    assert!(records(&*store.jobs, &first.id).await.is_empty());
    assert_eq!(
        store.jobs.record_outcomes(&[snooze]).await.unwrap(),
        vec![false]
    );
    assert_eq!(claim_one(&*store.jobs, t(59), token(2)).await.id, id(2));
    let again = claim_one(&*store.jobs, t(60), token(3)).await;
    assert_eq!(
        (again.id.clone(), again.attempt, again.snoozes),
        (id(1), 1, 1)
    );
}
