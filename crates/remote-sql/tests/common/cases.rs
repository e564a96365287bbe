//! The store tests every dialect runs (each test binary names them with `store_cases!`): what
//! the conformance suite cannot see from outside a store, or sees only one entry at a time.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use conformance_tests::calls::{self, completion, failure, lease, token};
use remote_core::{
    handler_fn, AcquireLeader, CancelJob, ClaimItems, ClaimJobs, Error, ErrorRecord, ExpiredLeases,
    InsertJobs, Inserted, Job, JobContext, JobError, JobFactory, JobId, JobNames, JobOptions,
    JobQuery, JobStatus, JobStore, LeaseToken, Misfire, OnConflict, Outcome, OutcomeKind,
    PauseNames, Processor, RemoveJobs, RenewLeases, RetryJobs, SchedulerItem, SchedulerStore,
    StatusSet, Unique,
};
use remote_sql::{SqlOptions, SqlPool, SqlStore};
use serde_json::{json, Value};

use super::{Db, Space};

/// `seconds` after 2026-01-01T00:00:00Z.
pub(crate) fn t(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("valid time")
        + TimeDelta::seconds(seconds)
}

/// A queued `echo` job with input `{"n": n}`, queued at `t(at)`.
pub(crate) fn echo(n: i64, at: i64) -> Job {
    Job::queued("echo", json!({ "n": n }), 3, Duration::from_secs(10), t(at))
}

/// Inserts `jobs`, refusing stored ids.
pub(crate) async fn insert(store: &SqlStore, jobs: &[Job]) {
    calls::insert(store, jobs).await.expect("insert");
}

/// Claims up to `limit` `echo` jobs at `t(now)` under `token`, leased for 30 s.
pub(crate) async fn claim_as(
    store: &SqlStore,
    now: i64,
    limit: usize,
    token: LeaseToken,
) -> Vec<Job> {
    let names = vec!["echo".to_owned()];
    store
        .claim_jobs(&ClaimJobs {
            names: &names,
            now: t(now),
            lease_until: t(now + 30),
            token,
            limit,
        })
        .await
        .expect("claim")
}

/// Claims up to `limit` `echo` jobs at `t(now)` under a random token.
pub(crate) async fn claim(store: &SqlStore, now: i64, limit: usize) -> Vec<Job> {
    claim_as(store, now, limit, LeaseToken::random()).await
}

/// Claims up to `limit` due items at `t(now)`, locked until `t(until)`.
pub(crate) async fn claim_items(
    store: &SqlStore,
    now: i64,
    until: i64,
    limit: usize,
) -> remote_core::Result<Vec<SchedulerItem>> {
    store
        .claim_items(&ClaimItems {
            now: t(now),
            locked_until: t(until),
            limit,
        })
        .await
}

/// Claims batches of `limit` at `t(100)` until none are left; the ids claimed.
pub(crate) async fn drain(store: SqlStore, limit: usize) -> Vec<JobId> {
    let mut mine = Vec::new();
    loop {
        let got = claim(&store, 100, limit).await;
        if got.is_empty() {
            return mine;
        }
        mine.extend(got.into_iter().map(|j| j.id));
    }
}

async fn job(store: &SqlStore, id: &JobId) -> Job {
    store
        .get_job(id)
        .await
        .expect("get")
        .expect("the job is stored")
}

async fn errors(store: &SqlStore, id: &JobId) -> Vec<ErrorRecord> {
    store
        .job_errors(id)
        .await
        .expect("errors")
        .expect("the job is stored")
}

fn held(job: &Job) -> LeaseToken {
    job.lease_token.expect("a claimed job")
}

/// Joins claimers and checks that together they took `n` rows, none twice; the rows.
pub(crate) async fn each_once<T: Eq + std::hash::Hash>(
    claimers: Vec<tokio::task::JoinHandle<Vec<T>>>,
    n: usize,
    what: &str,
) -> Vec<T> {
    let mut all = Vec::new();
    for claimer in claimers {
        all.extend(claimer.await.expect("a claimer"));
    }
    assert_eq!(all.len(), n, "every {what} claimed");
    assert_eq!(
        all.iter().collect::<HashSet<_>>().len(),
        n,
        "no {what} claimed twice"
    );
    all
}

/// A batch of outcomes applies each entry under its own fence: entries with a wrong token, on
/// a job an earlier entry ended, or on no job, are answered `false`; the others apply, and
/// failures append their records (R3, R9).
pub(crate) async fn outcomes_are_fenced_entry_by_entry(space: Space) {
    let store = space.open().await;
    let jobs: Vec<Job> = (0..5).map(|n| echo(n, n)).collect();
    insert(&store, &jobs).await;
    let claimed = claim_as(&store, 10, 5, token(7)).await;
    assert_eq!(claimed.len(), 5);
    let id = |n: usize| &claimed[n].id;
    let (r1, r2) = (
        ErrorRecord::new(1, "retry me", t(11)),
        ErrorRecord::new(1, "boom\0 ✗", t(11)),
    );
    let batch = vec![
        completion(id(0), token(7), json!({"ok": "✓"}), t(11)),
        failure(id(1), token(7), r1.clone(), Some(t(100)), t(11)),
        failure(id(2), token(7), r2.clone(), None, t(11)),
        completion(id(3), token(8), json!("stale"), t(11)),
        completion(id(4), token(7), json!(4), t(11)),
        completion(id(4), token(7), json!("again"), t(11)),
        completion(id(0), token(7), json!("ended already"), t(11)),
        completion(&JobId::new(), token(7), json!("no such job"), t(11)),
    ];
    let answers = store.record_outcomes(&batch).await.expect("outcomes");
    assert_eq!(
        answers,
        [true, true, true, false, true, false, false, false]
    );

    let done = job(&store, id(0)).await;
    assert_eq!(
        (
            done.status,
            done.output,
            done.completed_at,
            done.lease_token,
            done.lease_until
        ),
        (
            JobStatus::Completed,
            Some(json!({"ok": "✓"})),
            Some(t(11)),
            None,
            None
        )
    );
    let retried = job(&store, id(1)).await;
    assert_eq!(
        (
            retried.status,
            retried.not_before,
            retried.attempt,
            retried.completed_at
        ),
        (JobStatus::Queued, Some(t(100)), 1, None)
    );
    assert_eq!(retried.queued_at, t(1), "a retry keeps its place in line");
    assert_eq!(errors(&store, id(1)).await, [r1]);
    let failed = job(&store, id(2)).await;
    assert_eq!(
        (failed.status, failed.completed_at),
        (JobStatus::Error, Some(t(11)))
    );
    assert_eq!(errors(&store, id(2)).await, [r2]);
    let untouched = job(&store, id(3)).await;
    assert_eq!(
        (untouched.status, untouched.lease_token),
        (JobStatus::Processing, Some(token(7)))
    );
    assert_eq!(job(&store, id(4)).await.output, Some(json!(4)));
    assert!(errors(&store, id(0)).await.is_empty());

    assert!(
        claim(&store, 99, 5).await.is_empty(),
        "not pulled before not_before"
    );
    let again = claim(&store, 100, 5).await;
    assert_eq!(again.iter().map(|j| &j.id).collect::<Vec<_>>(), [id(1)]);
    assert_eq!(again[0].attempt, 2);
    let stale = store.record_outcomes(&batch[..3]).await.expect("outcomes");
    assert_eq!(stale, [false; 3], "ended attempts stay ended");
}

/// Released attempts go back to the queue as if never claimed (R23), each fenced by its token.
pub(crate) async fn release_hands_attempts_back(space: Space) {
    let store = space.open().await;
    let originals = [echo(1, 0), echo(2, 1), echo(3, 2)];
    insert(&store, &originals).await;
    let claimed = claim_as(&store, 10, 3, token(5)).await;
    let (first, second, third) = (&claimed[0], &claimed[1], &claimed[2]);
    // The third is in its second attempt: released, it keeps the first one's count and time.
    let retry = failure(
        &third.id,
        token(5),
        ErrorRecord::new(1, "once", t(11)),
        Some(t(11)),
        t(11),
    );
    assert!(calls::fail(&store, &retry).await.unwrap());
    let third_again = claim_as(&store, 12, 1, token(6)).await;
    assert_eq!(third_again[0].id, third.id);

    let answers = store
        .release_jobs(&[
            lease(&first.id, token(5)),
            lease(&second.id, token(99)),
            lease(&first.id, token(5)),
            lease(&third.id, token(6)),
        ])
        .await
        .expect("release");
    assert_eq!(answers, [true, false, false, true]);
    assert_eq!(
        job(&store, &first.id).await,
        originals[0],
        "as never claimed"
    );
    assert!(
        errors(&store, &first.id).await.is_empty(),
        "a release is no failure"
    );
    let kept = job(&store, &third.id).await;
    assert_eq!(
        (kept.status, kept.attempt, kept.picked_at),
        (JobStatus::Queued, 1, Some(t(12)))
    );
    assert_eq!(job(&store, &second.id).await.status, JobStatus::Processing);
    let next = claim(&store, 20, 3).await;
    assert_eq!(
        next.iter().map(|j| &j.id).collect::<Vec<_>>(),
        [&first.id, &third.id],
        "released jobs keep their place in line"
    );
}

/// A rescue ends only attempts whose lease expired at its `now` (R8); renewed leases are safe.
pub(crate) async fn rescue_takes_only_expired_leases(space: Space) {
    let store = space.open().await;
    insert(&store, &[echo(1, 0), echo(2, 1), echo(3, 2)]).await;
    let claimed = claim_as(&store, 10, 3, token(3)).await;
    let id = |n: usize| &claimed[n].id;
    let renewed = store
        .renew_leases(&RenewLeases {
            leases: &[lease(id(2), token(3)), lease(id(1), token(4))],
            lease_until: t(100),
        })
        .await
        .expect("renew");
    assert_eq!(renewed, [true, false], "renewing is fenced by the token");
    assert_eq!(job(&store, id(2)).await.lease_until, Some(t(100)));
    let expired = store
        .expired_leases(&ExpiredLeases {
            now: t(40),
            limit: 10,
        })
        .await
        .expect("expired");
    assert_eq!(
        expired.iter().map(|j| &j.id).collect::<Vec<_>>(),
        [id(0), id(1)]
    );

    let lost = |n: usize, now: i64, retry: bool| {
        let record = ErrorRecord::new(1, "worker lost", t(now));
        failure(id(n), token(3), record, retry.then(|| t(now)), t(now))
    };
    let early = store
        .rescue_jobs(&[lost(0, 39, false), lost(1, 39, true)])
        .await
        .unwrap();
    assert_eq!(
        early,
        [false, false],
        "leases running until t(40) are not rescued at t(39)"
    );
    let due = store
        .rescue_jobs(&[lost(0, 40, false), lost(1, 40, true), lost(2, 40, true)])
        .await
        .unwrap();
    assert_eq!(due, [true, true, false], "the renewed lease runs on");
    assert_eq!(job(&store, id(0)).await.status, JobStatus::Error);
    assert_eq!(job(&store, id(1)).await.status, JobStatus::Queued);
    assert_eq!(errors(&store, id(1)).await.len(), 1);
    assert_eq!(job(&store, id(2)).await.status, JobStatus::Processing);
    assert!(calls::complete(&store, id(2), token(3), &json!(3), t(50))
        .await
        .unwrap());
}

/// Adding jobs refuses a stored or repeated id and stores nothing of the call, or skips it and
/// says which were added (R1, R15).
pub(crate) async fn adding_jobs_refuses_or_skips_stored_ids(space: Space) {
    let store = space.open().await;
    let (a, b, c, d) = (echo(1, 0), echo(2, 0), echo(3, 0), echo(4, 0));
    insert(&store, &[a.clone(), b.clone()]).await;
    let add = |jobs: Vec<Job>, on_conflict| {
        let store = store.clone();
        async move {
            store
                .insert_jobs(&InsertJobs {
                    jobs: &jobs,
                    on_conflict,
                })
                .await
        }
    };
    let mut changed = a.clone();
    changed.input = json!("changed");
    for (jobs, refused) in [
        (vec![c.clone(), changed.clone()], &a.id),
        (vec![c.clone(), d.clone(), c.clone()], &c.id),
    ] {
        match add(jobs, OnConflict::Refuse).await {
            Err(Error::JobExists(id)) => assert_eq!(&id, refused),
            other => panic!("expected JobExists({refused}), got {other:?}"),
        }
    }
    assert_eq!(
        store.count_jobs().await.unwrap()[&JobStatus::Queued],
        2,
        "nothing stored"
    );
    let answers = add(
        vec![c.clone(), changed, c.clone(), d.clone()],
        OnConflict::Skip,
    )
    .await;
    use Inserted::{Skipped, Stored};
    assert_eq!(answers.unwrap(), [Stored, Skipped, Skipped, Stored]);
    assert_eq!(job(&store, &a.id).await, a, "the stored job is kept");
    assert_eq!(job(&store, &c.id).await, c);
    assert_eq!(add(Vec::new(), OnConflict::Refuse).await.unwrap(), []);
}

/// Cancelling moves a job only from the statuses the caller names (R4).
pub(crate) async fn cancel_takes_the_cancellable_statuses_from_the_caller(space: Space) {
    let store = space.open().await;
    let (a, b) = (echo(1, 0), echo(2, 1));
    insert(&store, &[a.clone(), b.clone()]).await;
    let cancel = |id: JobId, cancellable: Vec<JobStatus>| {
        let store = store.clone();
        async move {
            store
                .cancel_job(&CancelJob {
                    id: &id,
                    cancellable: &cancellable,
                    now: t(5),
                })
                .await
                .expect("cancel")
        }
    };
    assert_eq!(
        cancel(a.id.clone(), vec![JobStatus::Processing]).await,
        Some(JobStatus::Queued)
    );
    assert_eq!(job(&store, &a.id).await, a, "not cancellable: unchanged");
    assert_eq!(
        cancel(a.id.clone(), vec![JobStatus::Queued]).await,
        Some(JobStatus::Queued)
    );
    let cancelled = job(&store, &a.id).await;
    assert_eq!(
        (cancelled.status, cancelled.completed_at),
        (JobStatus::Cancelled, Some(t(5)))
    );
    let running = claim_as(&store, 3, 1, token(9)).await;
    assert_eq!(running[0].id, b.id);
    let both = vec![JobStatus::Queued, JobStatus::Processing];
    assert_eq!(
        cancel(b.id.clone(), both.clone()).await,
        Some(JobStatus::Processing)
    );
    assert_eq!(
        job(&store, &b.id).await.lease_token,
        None,
        "the lease ends with the cancel"
    );
    assert!(!calls::complete(&store, &b.id, token(9), &json!(1), t(6))
        .await
        .unwrap());
    assert_eq!(cancel(JobId::new(), both).await, None);
}

/// Removing finished jobs takes the oldest `completed_at` first, a limited number at a time,
/// only those finished before the given time, and their error records with them (R6).
pub(crate) async fn removing_takes_the_oldest_finished_jobs_first(space: Space) {
    let store = space.open().await;
    let finished = |n: i64, status: JobStatus, at: Option<i64>| Job {
        status,
        completed_at: at.map(t),
        ..echo(n, 0)
    };
    let jobs = vec![
        finished(1, JobStatus::Completed, Some(30)),
        finished(2, JobStatus::Error, Some(10)),
        finished(3, JobStatus::Cancelled, Some(20)),
        finished(4, JobStatus::Completed, Some(60)),
        finished(5, JobStatus::Completed, None),
        echo(6, 0),
    ];
    insert(&store, &jobs).await;
    let remove = |statuses: &'static [JobStatus], before: Option<i64>, limit: Option<usize>| {
        let store = store.clone();
        async move {
            store
                .remove_jobs(&RemoveJobs {
                    statuses,
                    names: JobNames::All,
                    finished_before: before.map(t),
                    limit,
                })
                .await
                .expect("remove")
        }
    };
    let gone = remove(&JobStatus::REMOVABLE, Some(50), Some(2)).await;
    assert_eq!(gone.values().sum::<u64>(), 2);
    assert_eq!(
        (gone.get(&JobStatus::Error), gone.get(&JobStatus::Cancelled)),
        (Some(&1), Some(&1))
    );
    assert!(
        store.job_errors(&jobs[1].id).await.unwrap().is_none(),
        "gone with its records"
    );
    let gone = remove(&[JobStatus::Completed], None, Some(1)).await;
    assert_eq!(gone.get(&JobStatus::Completed), Some(&1));
    assert!(
        store.get_job(&jobs[4].id).await.unwrap().is_none(),
        "no completed_at sorts first"
    );
    let gone = remove(&[JobStatus::Completed], None, None).await;
    assert_eq!(gone.get(&JobStatus::Completed), Some(&2));
    assert_eq!(
        store.list_jobs(&JobQuery::default()).await.unwrap(),
        [jobs[5].clone()]
    );

    // More than a removal takes per transaction.
    space.fill(&store, 2_500, "'echo'", "'completed'").await;
    let gone = remove(&JobStatus::REMOVABLE, None, None).await;
    assert_eq!(gone.get(&JobStatus::Completed), Some(&2_500));
    assert_eq!(store.count_jobs().await.unwrap().values().sum::<u64>(), 1);
}

/// Inputs, outputs, error texts and schedules come back exactly as written (R22): unicode,
/// NUL, numbers at the edges of their types, operator-like keys.
pub(crate) async fn json_and_texts_round_trip_exactly(space: Space) {
    let store = space.open().await;
    let values = [
        json!({"ключ": "värde 🚀", "nul\u{0}key": "a\u{0}b", "$where": {"a.b": [null, true]}}),
        json!([
            u64::MAX,
            i64::MIN,
            1.7976931348623157e308,
            5e-324,
            -0.0,
            0.1,
            1e21
        ]),
        json!("   trailing spaces   "),
        json!(""),
        Value::Null,
        json!({"\\": "\"quoted\" \\ 'single' `back` \n\t\r \u{7f} \u{2028}"}),
    ];
    for (n, value) in values.iter().enumerate() {
        let mut added = echo(n as i64, 0);
        added.input = value.clone();
        insert(&store, std::slice::from_ref(&added)).await;
        let stored = job(&store, &added.id).await;
        assert!(
            stored.input == *value,
            "input {value} read back as {}",
            stored.input
        );
        let claimed = claim_as(&store, 1, 1, token(1)).await;
        assert!(claimed[0].input == *value);
        assert!(calls::complete(&store, &added.id, token(1), value, t(2))
            .await
            .unwrap());
        assert!(
            job(&store, &added.id).await.output.as_ref() == Some(value),
            "output {value}"
        );
    }
    let text = format!(
        "{{\"$where\": 1}} '; DROP TABLE x; -- \u{0} ✗ 😀 \n{}",
        "€ ".repeat(5000)
    );
    let failed = echo(99, 0);
    insert(&store, std::slice::from_ref(&failed)).await;
    claim_as(&store, 1, 1, token(2)).await;
    let record = ErrorRecord::new(1, text.clone(), t(3));
    assert!(
        calls::fail(&store, &failure(&failed.id, token(2), record, None, t(3)))
            .await
            .unwrap()
    );
    assert!(
        errors(&store, &failed.id).await[0].message == text,
        "error text changed"
    );

    let crontab = SchedulerItem::crontab("echo ünï", "*/15 9-17 * * 1-5", "Europe/Paris")
        .with_input(values[0].clone())
        .with_next_call_time(t(5));
    store.insert_item(&crontab).await.unwrap();
    assert_eq!(
        store.get_item(&crontab.id).await.unwrap(),
        Some(crontab.clone())
    );
    let by_name = JobQuery {
        job_name: Some("echo ".to_owned()),
        ..JobQuery::default()
    };
    assert!(
        store.list_jobs(&by_name).await.unwrap().is_empty(),
        "names compare exactly"
    );
}

/// Inputs and outputs of several MiB, in a batch of several MiB, round-trip (R22).
pub(crate) async fn huge_payloads_round_trip(space: Space) {
    let store = space.open().await;
    let big = |n: usize, seed: char| json!({"blob": seed.to_string().repeat(n), "tail": [1, 2, 3]});
    let jobs: Vec<Job> = (0..6)
        .map(|n| {
            let mut job = echo(n, n);
            job.input = big(1 << 20, char::from(b'a' + n as u8));
            job
        })
        .collect();
    insert(&store, &jobs).await;
    let mut huge = echo(9, 9);
    huge.input = big(4 << 20, 'ü');
    insert(&store, std::slice::from_ref(&huge)).await;
    let claimed = claim_as(&store, 20, 10, token(4)).await;
    assert_eq!(claimed.len(), 7);
    for (claimed, job) in claimed.iter().zip(jobs.iter().chain([&huge])) {
        assert!(
            claimed.input == job.input,
            "the input of {} changed",
            job.id
        );
    }
    let outcomes: Vec<Outcome> = jobs
        .iter()
        .chain([&huge])
        .map(|j| completion(&j.id, token(4), j.input.clone(), t(21)))
        .collect();
    assert_eq!(store.record_outcomes(&outcomes).await.unwrap(), [true; 7]);
    let read = job(&store, &huge.id).await;
    assert!(read.output.as_ref() == Some(&huge.input) && read.input == huge.input);
}

/// The claim walks the claim index in pull order among 100 000 queued jobs (every fifth of
/// 125 000 finished, every tenth of another name, every seventh of a higher priority): no scan
/// of the table, no sort.
pub(crate) async fn claim_walks_the_claim_index(space: Space) {
    let store = space.open().await;
    space
        .fill_with(
            &store,
            125_000,
            "CASE WHEN g % 10 = 0 THEN 'other' ELSE 'echo' END",
            "CASE WHEN g % 5 = 0 THEN 'completed' ELSE 'queued' END",
            "CASE WHEN g % 7 = 0 THEN 2 ELSE 0 END",
        )
        .await;
    let queued = store.count_jobs().await.unwrap()[&JobStatus::Queued];
    assert_eq!(queued, 100_000);
    space
        .assert_claim_walks_the_index(&store, 10, "on 100 000 queued jobs")
        .await;

    let started = Instant::now();
    let claimed = claim(&store, 3600, 10).await;
    println!("claimed 10 of 100 000 in {:?}", started.elapsed());
    let expected: Vec<String> = (1..)
        .filter(|g| g % 7 == 0 && g % 5 != 0)
        .take(10)
        .map(|g| format!("{g:024x}"))
        .collect();
    let got: Vec<&str> = claimed.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(
        got, expected,
        "the oldest queued echo jobs of the highest priority, in pull order"
    );
}

/// Stores under other prefixes (or schemas) see nothing of each other; a store that did not
/// migrate fails with store errors until it does.
pub(crate) async fn prefixes_do_not_see_each_other(space: Space) {
    let a = space.open().await;
    let b = space.open_beside("b_").await;
    insert(&a, &[echo(1, 0)]).await;
    a.insert_item(&SchedulerItem::delay("echo", 5).with_next_call_time(t(5)))
        .await
        .unwrap();
    assert!(b.list_jobs(&JobQuery::default()).await.unwrap().is_empty());
    assert!(b.list_items().await.unwrap().is_empty());
    assert!(claim(&b, 100, 10).await.is_empty());
    assert_eq!(claim(&a, 100, 10).await.len(), 1);

    let later = space
        .options()
        .table_prefix(format!("{}later_", space.prefix()));
    let unmigrated = space.open_with(later.run_migrations(false)).await;
    let refused = unmigrated.list_jobs(&JobQuery::default()).await;
    assert!(
        matches!(refused, Err(ref e) if e.is_store()),
        "no tables yet: {refused:?}"
    );
    unmigrated.migrate().await.unwrap();
    assert!(unmigrated
        .list_jobs(&JobQuery::default())
        .await
        .unwrap()
        .is_empty());
}

/// `drop_tables` removes what the store's migrations created under its prefix, and only that:
/// another prefix keeps its jobs, the same prefix opens anew, empty, and a second drop finds
/// nothing to drop.
pub(crate) async fn dropping_the_tables_leaves_the_prefix_to_start_anew(space: Space) {
    let a = space.open().await;
    let b = space.open_beside("b_").await;
    insert(&a, &[echo(1, 0), echo(2, 0)]).await;
    insert(&b, &[echo(3, 0)]).await;
    a.insert_item(&SchedulerItem::delay("echo", 5).with_next_call_time(t(5)))
        .await
        .unwrap();
    a.drop_tables().await.unwrap();
    let gone = a.list_jobs(&JobQuery::default()).await;
    assert!(
        matches!(gone, Err(ref e) if e.is_store()),
        "the tables are gone: {gone:?}"
    );
    assert_eq!(b.list_jobs(&JobQuery::default()).await.unwrap().len(), 1);
    a.drop_tables().await.unwrap();

    let again = space.open().await;
    assert!(again
        .list_jobs(&JobQuery::default())
        .await
        .unwrap()
        .is_empty());
    assert!(again.list_items().await.unwrap().is_empty());
    insert(&again, &[echo(1, 0)]).await;
    assert_eq!(claim(&again, 100, 10).await.len(), 1);
    assert_eq!(
        again.list_jobs(&JobQuery::default()).await.unwrap().len(),
        1
    );
}

/// Rows the store cannot read (malformed ids, negative counters, unknown schedules) are
/// store errors, never panics.
pub(crate) async fn unreadable_rows_are_store_errors(space: Space) {
    let store = space.open().await;
    let now = match space.db {
        Db::Postgres => "now()",
        _ => "0",
    };
    space
        .exec(
            &store,
            &format!(
                "INSERT INTO {{jobs}} (id, job_name, input, status, attempt, max_attempts, \
                   retry_delay_ms, queued_at) \
                 VALUES ('not-an-id', 'echo', '{{}}', 'queued', -1, 3, 10, {now}); \
                 INSERT INTO {{items}} (id, job_name, input, active, lock_duration_ms, schedule) \
                 VALUES ('0123456789abcdef01234567', 'echo', 'null', TRUE, 10, '{{\"kind\": \"nope\"}}')"
            ),
        )
        .await;
    let jobs = store.list_jobs(&JobQuery::default()).await;
    assert!(matches!(jobs, Err(Error::Store { .. })), "{jobs:?}");
    let claimed = store
        .claim_jobs(&ClaimJobs {
            names: &["echo".to_owned()],
            now: Utc::now(),
            lease_until: Utc::now(),
            token: token(1),
            limit: 5,
        })
        .await;
    assert!(matches!(claimed, Err(Error::Store { .. })), "{claimed:?}");
    let items = store.list_items().await;
    assert!(matches!(items, Err(Error::Store { .. })), "{items:?}");
}

/// Bad options and URLs are typed errors.
pub(crate) async fn bad_options_are_typed_errors(space: Space) {
    for prefix in ["a-b", "x\"; DROP TABLE t; --", "9lives", "`x`"] {
        let refused = space
            .options()
            .table_prefix(prefix)
            .connect(&space.url())
            .await;
        assert!(
            matches!(refused, Err(Error::InvalidInput(_))),
            "{prefix}: {refused:?}"
        );
    }
    let refused = SqlOptions::new().schema("").connect(&space.url()).await;
    assert!(
        matches!(refused, Err(Error::InvalidInput(_))),
        "{refused:?}"
    );
    let refused = SqlStore::connect("oracle://localhost/db").await;
    assert!(
        matches!(refused, Err(Error::InvalidInput(_))),
        "{refused:?}"
    );
}

/// The schema and data of the previous release (columns `retry_counter`, `max_retries`,
/// `retry_time`, `retry_delay_ms`; its migrations recorded as its runner recorded them) are
/// migrated on open, then read and claimed like new data.
pub(crate) async fn data_of_the_previous_release_is_read_and_claimed(space: Space) {
    let migrations: &[&str] = match space.db {
        Db::Postgres => &[
            include_str!("../../migrations/postgres/0001_init.sql"),
            include_str!("../../migrations/postgres/0002_claim_order.sql"),
        ],
        Db::Sqlite => &[include_str!("../../migrations/sqlite/0001_init.sql")],
        Db::MySql => panic!("MySQL had no release before the column names"),
    };
    let bare = released(&space, migrations).await;
    let at = |seconds: i64| at(space.db, seconds);
    let (queued, retried, running, done) = (JobId::new(), JobId::new(), JobId::new(), JobId::new());
    let item = remote_core::ItemId::new();
    space
        .exec(
            &bare,
            &format!(
                "INSERT INTO {{jobs}} (id, job_name, input, status, output, retry_counter, \
                   max_retries, retry_delay_ms, queued_at, retry_time, picked_at, completed_at, \
                   lease_until, lease_token) VALUES \
                 ('{queued}', 'echo', '{{\"n\": 1}}', 'queued', NULL, 0, 3, 10000, {t1}, NULL, NULL, NULL, NULL, NULL), \
                 ('{retried}', 'echo', '[2]', 'queued', NULL, 1, 5, 10000, {t0}, {t20}, {t10}, NULL, NULL, NULL), \
                 ('{running}', 'echo', '3', 'processing', NULL, 1, 3, 10000, {t2}, NULL, {t10}, NULL, {t40}, 7), \
                 ('{done}', 'echo', '4', 'completed', '\"four\"', 1, 3, 10000, {t3}, NULL, {t10}, {t11}, NULL, NULL); \
                 INSERT INTO {{errors}} (job_id, id, created, attempt, message) VALUES \
                 ('{retried}', '0123456789abcdef01234567', {t10}, 1, {message}); \
                 INSERT INTO {{items}} (id, job_name, input, active, next_call_time, retry_time, \
                   retry_delay_ms, schedule) VALUES \
                 ('{item}', 'echo', 'null', TRUE, {t5}, NULL, 60000, '{{\"kind\": \"delay\", \"delay\": 60}}')",
                t0 = at(0),
                t1 = at(1),
                t2 = at(2),
                t3 = at(3),
                t5 = at(5),
                t10 = at(10),
                t11 = at(11),
                t20 = at(20),
                t40 = at(40),
                message = match space.db {
                    Db::Postgres => "convert_to('it failed', 'UTF8')",
                    _ => "'it failed'",
                },
            ),
        )
        .await;
    super::close(bare.pool()).await;

    let store = space.open().await;
    assert_eq!(space.versions(&store).await, all_versions(space.db));
    let old = job(&store, &retried).await;
    assert_eq!(
        (
            old.attempt,
            old.max_attempts,
            old.not_before,
            old.picked_at,
            old.input
        ),
        (1, 5, Some(t(20)), Some(t(10)), json!([2]))
    );
    assert_eq!(job(&store, &done).await.output, Some(json!("four")));
    let records = errors(&store, &retried).await;
    assert_eq!(
        (records.len(), records[0].message.as_str()),
        (1, "it failed")
    );
    let items = store.list_items().await.unwrap();
    assert_eq!(
        (
            items[0].id.clone(),
            items[0].locked_until,
            items[0].lock_duration
        ),
        (item.clone(), None, Duration::from_secs(60))
    );
    assert_eq!(items[0].misfire, Misfire::FireOnce);

    let first = claim_as(&store, 19, 5, token(1)).await;
    assert_eq!(
        first.iter().map(|j| &j.id).collect::<Vec<_>>(),
        [&queued],
        "not before t(20)"
    );
    let second = claim_as(&store, 20, 5, token(2)).await;
    assert_eq!(
        (second[0].id.clone(), second[0].attempt),
        (retried.clone(), 2)
    );
    let lost = failure(
        &running,
        token(7),
        ErrorRecord::new(1, "worker lost", t(40)),
        None,
        t(40),
    );
    assert_eq!(store.rescue_jobs(&[lost]).await.unwrap(), [true]);
    let claimed = claim_items(&store, 6, 66, 5).await.unwrap();
    assert_eq!(claimed.iter().map(|i| &i.id).collect::<Vec<_>>(), [&item]);
}

/// `t(seconds)` as an SQL literal of the place's time columns.
fn at(db: Db, seconds: i64) -> String {
    match db {
        Db::Postgres => format!("timestamptz '2026-01-01 00:00:00+00' + interval '{seconds} s'"),
        _ => t(seconds).timestamp_millis().to_string(),
    }
}

/// A store that did not migrate, on the schema an earlier release left: its `migrations`
/// applied and recorded as its runner recorded them.
async fn released(space: &Space, migrations: &[&str]) -> SqlStore {
    let bare = space.open_with(space.options().run_migrations(false)).await;
    let table = match space.db {
        Db::Postgres => {
            "CREATE SCHEMA {schema_name}; \
             CREATE TABLE {migrations} (version bigint PRIMARY KEY, description text NOT NULL, \
               checksum bigint NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        }
        Db::Sqlite => {
            "CREATE TABLE {migrations} (version INTEGER PRIMARY KEY, \
               description TEXT NOT NULL, checksum INTEGER NOT NULL, applied_at INTEGER NOT NULL)"
        }
        Db::MySql => {
            "CREATE TABLE {migrations} (version BIGINT NOT NULL PRIMARY KEY, \
               description TEXT NOT NULL, checksum BIGINT NOT NULL, applied_at BIGINT NOT NULL) \
               ENGINE = InnoDB"
        }
    };
    space
        .exec(
            &bare,
            &table.replace("{schema_name}", &format!("\"{}\"", space.name)),
        )
        .await;
    for (n, sql) in migrations.iter().enumerate() {
        space.exec(&bare, sql).await;
        space
            .exec(
                &bare,
                &format!(
                    "INSERT INTO {{migrations}} (version, description, checksum, applied_at) \
                     VALUES ({}, 'as released', {}, {})",
                    n + 1,
                    checksum(sql),
                    at(space.db, 0)
                ),
            )
            .await;
    }
    bare
}

/// Every migration version of the dialect, as a migrated place records them: the numbers of
/// the files in `migrations/<dialect>`.
pub(crate) fn all_versions(db: Db) -> Vec<i64> {
    let dir = match db {
        Db::Postgres => "postgres",
        Db::Sqlite => "sqlite",
        Db::MySql => "mysql",
    };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(dir);
    let mut versions: Vec<i64> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| {
            let name = entry.expect("a directory entry").file_name();
            let name = name.to_string_lossy();
            let (version, _) = name.split_once('_').expect("<version>_<words>.sql");
            version.parse().expect("a numbered migration")
        })
        .collect();
    versions.sort_unstable();
    versions
}

/// A migration's checksum as its runner records it (64-bit FNV-1a of the file).
fn checksum(sql: &str) -> i64 {
    use std::hash::Hasher;
    let mut hasher = fnv::FnvHasher::default();
    hasher.write(sql.as_bytes());
    i64::from_ne_bytes(hasher.finish().to_ne_bytes())
}

/// Times do not depend on the session's time zone: a store whose sessions run far from UTC
/// stores, compares and reads the same instants as one in UTC.
pub(crate) async fn times_do_not_depend_on_the_session_time_zone(space: Space) {
    let far = space.open_far_from_utc().await;
    let job = Job {
        not_before: Some(t(50)),
        ..echo(1, 0)
    };
    insert(&far, std::slice::from_ref(&job)).await;
    assert!(claim(&far, 49, 1).await.is_empty());
    let claimed = claim(&far, 50, 1).await;
    assert_eq!(
        (claimed[0].queued_at, claimed[0].picked_at),
        (t(0), Some(t(50)))
    );
    let utc = space.open().await;
    let read = utc.get_job(&job.id).await.unwrap().expect("stored");
    assert_eq!(
        (read.not_before, read.lease_until, read.queued_at),
        (Some(t(50)), Some(t(80)), t(0))
    );
    assert_eq!(calls::expired(&utc, t(80), 5).await.unwrap().len(), 1);
    assert!(calls::expired(&far, t(79), 5).await.unwrap().is_empty());
}

/// A database written by the release before job features (priorities, unique keys, timeouts,
/// snoozes, paused names, maintenance leases) is migrated on open: its jobs read back with
/// priority 0, no key, `unique_across` queued and processing, no timeout and no snoozes, and
/// are claimed, retried and snoozed beside new ones (R26–R33).
pub(crate) async fn data_written_before_job_features_keeps_working(space: Space) {
    let migrations: &[&str] = match space.db {
        Db::Postgres => &[
            include_str!("../../migrations/postgres/0001_init.sql"),
            include_str!("../../migrations/postgres/0002_claim_order.sql"),
            include_str!("../../migrations/postgres/0003_column_names.sql"),
            include_str!("../../migrations/postgres/0004_finished_order.sql"),
        ],
        Db::Sqlite => &[
            include_str!("../../migrations/sqlite/0001_init.sql"),
            include_str!("../../migrations/sqlite/0002_column_names.sql"),
            include_str!("../../migrations/sqlite/0003_finished_order.sql"),
        ],
        Db::MySql => &[include_str!("../../migrations/mysql/0001_init.sql")],
    };
    let bare = released(&space, migrations).await;
    let (first, second, dead) = (JobId::new(), JobId::new(), JobId::new());
    space
        .exec(
            &bare,
            &format!(
                "INSERT INTO {{jobs}} (id, job_name, input, status, output, attempt, max_attempts, \
                   retry_delay_ms, queued_at, not_before, picked_at, completed_at, lease_until, \
                   lease_token) VALUES \
                 ('{first}', 'echo', '{{\"n\": 1}}', 'queued', NULL, 0, 3, 10000, {t1}, NULL, NULL, NULL, NULL, NULL), \
                 ('{second}', 'echo', '[2]', 'queued', NULL, 0, 3, 10000, {t2}, NULL, NULL, NULL, NULL, NULL), \
                 ('{dead}', 'echo', '3', 'error', NULL, 3, 3, 10000, {t0}, NULL, {t5}, {t6}, NULL, NULL)",
                t0 = at(space.db, 0),
                t1 = at(space.db, 1),
                t2 = at(space.db, 2),
                t5 = at(space.db, 5),
                t6 = at(space.db, 6),
            ),
        )
        .await;
    super::close(bare.pool()).await;

    let store = space.open().await;
    assert_eq!(space.versions(&store).await, all_versions(space.db));
    let old = job(&store, &first).await;
    assert_eq!(
        old,
        Job {
            id: first.clone(),
            input: json!({"n": 1}),
            queued_at: t(1),
            ..echo(1, 1)
        },
        "priority 0, no key, unique across queued and processing, no timeout, no snoozes"
    );
    assert_eq!(
        (old.priority, old.unique_across, old.timeout, old.snoozes),
        (0, StatusSet::LIVE, None, 0)
    );

    let urgent = Job {
        priority: 5,
        unique_key: Some("urgent".into()),
        timeout: Some(Duration::from_millis(1500)),
        ..echo(4, 10)
    };
    insert(&store, std::slice::from_ref(&urgent)).await;
    let again = Job {
        unique_key: Some("urgent".into()),
        ..echo(5, 11)
    };
    assert_eq!(
        add(&store, &[again]).await,
        [Inserted::Duplicate(urgent.id.clone())]
    );
    let claimed = claim_as(&store, 20, 2, token(1)).await;
    assert_eq!(
        claimed.iter().map(|j| &j.id).collect::<Vec<_>>(),
        [&urgent.id, &first],
        "the new job's priority first, then the old ones in their order"
    );
    assert_eq!(claimed[0].timeout, Some(Duration::from_millis(1500)));
    let snooze = Outcome {
        lease: lease(&first, token(1)),
        now: t(21),
        kind: OutcomeKind::Snooze { not_before: t(30) },
    };
    assert_eq!(store.record_outcomes(&[snooze]).await.unwrap(), [true]);
    let snoozed = job(&store, &first).await;
    assert_eq!((snoozed.attempt, snoozed.snoozes), (0, 1));
    let retried = store
        .retry_jobs(&RetryJobs {
            ids: None,
            statuses: &[JobStatus::Error],
            names: JobNames::All,
            now: t(22),
        })
        .await
        .unwrap();
    assert_eq!(retried.get(&JobStatus::Error), Some(&1));
    assert_eq!(job(&store, &dead).await.attempt, 0);
    assert_eq!(
        claim(&store, 23, 5)
            .await
            .iter()
            .map(|j| &j.id)
            .collect::<Vec<_>>(),
        [&dead, &second],
        "the retried job keeps its place in line; the snoozed one waits"
    );

    store
        .pause_names(&PauseNames {
            names: &["echo".to_owned()],
            paused: true,
            now: t(24),
        })
        .await
        .unwrap();
    assert_eq!(store.paused_names().await.unwrap()[0].since, t(24));
    let bid = AcquireLeader {
        name: "prune",
        holder: "me",
        until: t(60),
        now: t(24),
        note: Some(&json!({"removed": 0})),
    };
    assert!(store.acquire_leader(&bid).await.unwrap());
    assert_eq!(
        store.leaders().await.unwrap()[0].note,
        json!({"removed": 0})
    );
    store.migrate().await.unwrap();
    assert_eq!(space.versions(&store).await, all_versions(space.db));
}

/// Scheduler items written by the release before misfire policies (R34) are migrated on
/// open: they read back as `FireOnce`, the rule they fired by, are claimed as before, and take
/// a policy of another kind when updated.
pub(crate) async fn items_written_before_misfire_policies_fire_once(space: Space) {
    let migrations: &[&str] = match space.db {
        Db::Postgres => &[
            include_str!("../../migrations/postgres/0001_init.sql"),
            include_str!("../../migrations/postgres/0002_claim_order.sql"),
            include_str!("../../migrations/postgres/0003_column_names.sql"),
            include_str!("../../migrations/postgres/0004_finished_order.sql"),
            include_str!("../../migrations/postgres/0005_job_features.sql"),
        ],
        Db::Sqlite => &[
            include_str!("../../migrations/sqlite/0001_init.sql"),
            include_str!("../../migrations/sqlite/0002_column_names.sql"),
            include_str!("../../migrations/sqlite/0003_finished_order.sql"),
            include_str!("../../migrations/sqlite/0004_job_features.sql"),
        ],
        Db::MySql => &[
            include_str!("../../migrations/mysql/0001_init.sql"),
            include_str!("../../migrations/mysql/0002_job_features.sql"),
        ],
    };
    let bare = released(&space, migrations).await;
    let old = remote_core::ItemId::new();
    space
        .exec(
            &bare,
            &format!(
                "INSERT INTO {{items}} (id, job_name, input, active, next_call_time, locked_until, \
                   lock_duration_ms, schedule) VALUES \
                 ('{old}', 'echo', 'null', TRUE, {t5}, NULL, 60000, '{{\"kind\": \"delay\", \"delay\": 60}}')",
                t5 = at(space.db, 5),
            ),
        )
        .await;
    super::close(bare.pool()).await;

    let store = space.open().await;
    assert_eq!(space.versions(&store).await, all_versions(space.db));
    let items = store.list_items().await.unwrap();
    assert_eq!(
        (items[0].id.clone(), items[0].misfire),
        (old.clone(), Misfire::FireOnce)
    );
    let claimed = claim_items(&store, 6, 7, 5).await.unwrap();
    assert_eq!(
        claimed
            .iter()
            .map(|i| (&i.id, i.misfire))
            .collect::<Vec<_>>(),
        [(&old, Misfire::FireOnce)]
    );
    let skipping = SchedulerItem {
        misfire: Misfire::Skip,
        ..claimed[0].clone()
    };
    assert!(store.update_item(&skipping).await.unwrap());
    assert_eq!(store.get_item(&old).await.unwrap(), Some(skipping));
    let each = SchedulerItem::delay("echo", 1).with_misfire(Misfire::FireEach { max: 4 });
    store.insert_item(&each).await.unwrap();
    assert_eq!(store.get_item(&each.id).await.unwrap(), Some(each));
}

/// Inserts `jobs`, refusing stored ids; the answers.
async fn add(store: &SqlStore, jobs: &[Job]) -> Vec<Inserted> {
    store
        .insert_jobs(&InsertJobs {
            jobs,
            on_conflict: OnConflict::Refuse,
        })
        .await
        .expect("insert")
}

/// Claims every due `echo` job at `t(now)` under `token` and completes it at `t(now + 1)`.
async fn run_all(store: &SqlStore, now: i64, token: LeaseToken) -> Vec<JobId> {
    let claimed = claim_as(store, now, 100, token).await;
    let outcomes: Vec<Outcome> = claimed
        .iter()
        .map(|j| completion(&j.id, token, json!("done"), t(now + 1)))
        .collect();
    assert!(store
        .record_outcomes(&outcomes)
        .await
        .unwrap()
        .iter()
        .all(|applied| *applied));
    claimed.into_iter().map(|j| j.id).collect()
}

/// Unique keys stay consistent through every change of status (R27), whatever statuses each
/// job holds its key across. A job whose set lacks `queued` takes its key by a claim, an
/// outcome or a cancel, which check nothing: several may hold one key at once, as in the
/// reference store, and no change of status is ever refused for it; a job added or retried
/// meets every holder.
pub(crate) async fn unique_keys_hold_through_every_change_of_status(space: Space) {
    use Inserted::{Duplicate, Stored};
    use JobStatus::{Cancelled, Completed, Error as Failed, Processing, Queued};
    let store = space.open().await;
    let keyed = |n: i64, key: &str, across: &[JobStatus]| Job {
        unique_key: Some(key.to_owned()),
        unique_across: StatusSet::of(across),
        ..echo(n, n)
    };
    let holder_of = |answer: &Inserted| match answer {
        Duplicate(holder) => holder.clone(),
        other => panic!("a duplicate, not {other:?}"),
    };

    // Held only while running: two queued jobs of one key both run, both holding it.
    let (a, b) = (keyed(1, "p", &[Processing]), keyed(2, "p", &[Processing]));
    assert_eq!(add(&store, &[a.clone(), b.clone()]).await, [Stored, Stored]);
    let running = claim_as(&store, 10, 5, token(1)).await;
    assert_eq!(running.len(), 2, "a change of status is never refused");
    let live = keyed(3, "p", &[Queued, Processing]);
    let answer = add(&store, std::slice::from_ref(&live)).await;
    assert!([&a.id, &b.id].contains(&&holder_of(&answer[0])));
    for j in &running {
        assert!(calls::complete(&store, &j.id, token(1), &json!(1), t(11))
            .await
            .unwrap());
    }
    assert_eq!(add(&store, std::slice::from_ref(&live)).await, [Stored]);

    // Held once completed, beside a job holding the key while queued or running.
    let done = keyed(4, "p", &[Completed]);
    assert_eq!(add(&store, std::slice::from_ref(&done)).await, [Stored]);
    assert_eq!(
        run_all(&store, 20, token(2)).await,
        [live.id.clone(), done.id.clone()]
    );
    let after = keyed(5, "p", &[Queued, Processing]);
    assert_eq!(
        add(&store, std::slice::from_ref(&after)).await,
        [Duplicate(done.id.clone())]
    );

    // Held once cancelled, or failed for good: taken by a cancel and by an outcome.
    let (cancelled, failed) = (keyed(6, "x", &[Cancelled]), keyed(7, "x", &[Failed]));
    add(&store, &[cancelled.clone(), failed.clone()]).await;
    let cancel = CancelJob {
        id: &cancelled.id,
        cancellable: &[Queued],
        now: t(30),
    };
    assert_eq!(store.cancel_job(&cancel).await.unwrap(), Some(Queued));
    let claimed = claim_as(&store, 31, 5, token(3)).await;
    assert_eq!(claimed.len(), 1);
    let record = ErrorRecord::new(1, "no", t(32));
    let fail = failure(&failed.id, token(3), record, None, t(32));
    assert!(calls::fail(&store, &fail).await.unwrap());
    let answer = add(&store, &[keyed(8, "x", &[Queued, Processing])]).await;
    assert!([&cancelled.id, &failed.id].contains(&&holder_of(&answer[0])));

    // A dead job is retried only once no other job holds its key (R30).
    let dead = Job {
        status: Failed,
        completed_at: Some(t(40)),
        ..keyed(9, "d", &[Queued, Processing])
    };
    let blocker = keyed(10, "d", &[Completed]);
    add(&store, &[dead.clone(), blocker.clone()]).await;
    assert_eq!(
        run_all(&store, 41, token(4)).await,
        std::slice::from_ref(&blocker.id)
    );
    let retry = |ids: Vec<JobId>| {
        let store = store.clone();
        async move {
            store
                .retry_jobs(&RetryJobs {
                    ids: Some(&ids),
                    statuses: &[Failed],
                    names: JobNames::All,
                    now: t(43),
                })
                .await
                .unwrap()
        }
    };
    assert!(retry(vec![dead.id.clone()]).await.is_empty(), "key held");
    let removed = store
        .remove_jobs(&RemoveJobs {
            statuses: &[Completed],
            names: JobNames::All,
            finished_before: None,
            limit: None,
        })
        .await
        .unwrap();
    assert!(removed[&Completed] >= 1);
    assert_eq!(retry(vec![dead.id.clone()]).await[&Failed], 1);
    assert_eq!(
        add(&store, &[keyed(11, "d", &[Queued, Processing])]).await,
        [Duplicate(dead.id.clone())],
        "the retried job holds its key again"
    );
}

/// A unique key of any length is held (R27): keys are indexed by a hash where the database
/// limits the length of an index entry.
pub(crate) async fn long_unique_keys_are_held(space: Space) {
    let store = space.open().await;
    let long = format!("{}é", "key ".repeat(25_000));
    let keyed = |n: i64, key: &str| Job {
        unique_key: Some(key.to_owned()),
        ..echo(n, n)
    };
    let first = keyed(1, &long);
    assert_eq!(
        add(&store, std::slice::from_ref(&first)).await,
        [Inserted::Stored]
    );
    let stored = job(&store, &first.id).await.unique_key.unwrap_or_default();
    assert!(
        stored == long,
        "read back {} bytes of {}",
        stored.len(),
        long.len()
    );
    assert_eq!(
        add(&store, &[keyed(2, &long)]).await,
        [Inserted::Duplicate(first.id.clone())]
    );
    let other = format!("{}e", "key ".repeat(25_000));
    assert_eq!(add(&store, &[keyed(3, &other)]).await, [Inserted::Stored]);
}

/// Runs `$body` with `$tx`, a transaction begun on `$store`'s own pool, whatever its dialect.
macro_rules! in_transaction {
    ($store:expr, |$tx:ident| $body:expr) => {
        match $store.pool() {
            #[cfg(feature = "postgres")]
            SqlPool::Postgres(pool) => {
                let mut $tx = pool.begin().await.expect("begin");
                $body
            }
            #[cfg(feature = "sqlite")]
            SqlPool::Sqlite(pool) => {
                let mut $tx = pool.begin().await.expect("begin");
                $body
            }
            #[cfg(feature = "mysql")]
            SqlPool::MySql(pool) => {
                let mut $tx = pool.begin().await.expect("begin");
                $body
            }
            #[allow(unreachable_patterns)]
            other => panic!("no such pool in the tests: {other:?}"),
        }
    };
}

/// A processor of `echo` jobs on `store`, to prepare jobs as an application would.
pub(crate) fn processor(store: &SqlStore) -> Processor {
    let processor = Processor::new(store.clone());
    processor
        .register(JobFactory::new(
            "echo",
            handler_fn(|ctx: JobContext| async move { Ok::<_, JobError>(ctx.input) }),
        ))
        .expect("register echo");
    processor
}

/// Jobs added through the application's transaction (R32) are seen by no other connection
/// until it commits, then claimed like any; rolled back, they are gone. Unique keys and ids are
/// checked against the transaction's own jobs too, and a refused job leaves the transaction
/// usable.
pub(crate) async fn jobs_added_in_a_transaction_appear_at_commit_only(space: Space) {
    let store = space.open().await;
    let other = space.open().await;
    let p = processor(&store);
    let prepare = |n: i64, options: JobOptions| {
        p.prepare_job("echo", json!({ "n": n }), options)
            .expect("a prepared job")
    };
    let kept = prepare(1, JobOptions::new());
    let keyed = prepare(2, JobOptions::new().unique(Unique::key("k")));
    let same_key = prepare(3, JobOptions::new().unique(Unique::key("k")));
    let dropped = prepare(4, JobOptions::new());

    in_transaction!(store, |tx| {
        let added = store
            .insert_jobs_in(&mut tx, &[kept.clone(), keyed.clone()])
            .await
            .unwrap();
        assert_eq!(added, [Inserted::Stored, Inserted::Stored]);
        let again = store
            .insert_jobs_in(&mut *tx, std::slice::from_ref(&same_key))
            .await
            .unwrap();
        assert_eq!(again, [Inserted::Duplicate(keyed.id.clone())]);
        let refused = store
            .insert_jobs_in(&mut tx, std::slice::from_ref(&kept))
            .await;
        assert!(
            matches!(&refused, Err(Error::JobExists(id)) if *id == kept.id),
            "{refused:?}"
        );
        assert!(
            other.get_job(&kept.id).await.unwrap().is_none(),
            "not seen before the commit"
        );
        tx.commit().await.expect("commit");
    });
    assert_eq!(job(&other, &kept.id).await, kept);
    let claimed = claim(&other, 100, 10).await;
    assert_eq!(
        claimed.iter().map(|j| &j.id).collect::<HashSet<_>>(),
        HashSet::from([&kept.id, &keyed.id]),
        "committed jobs are claimed"
    );

    in_transaction!(store, |tx| {
        let added = store
            .insert_jobs_in(&mut tx, std::slice::from_ref(&dropped))
            .await
            .unwrap();
        assert_eq!(added, [Inserted::Stored]);
        tx.rollback().await.expect("rollback");
    });
    assert!(other.get_job(&dropped.id).await.unwrap().is_none());
    assert!(claim(&other, 100, 10).await.is_empty(), "rolled back: gone");
    let counts = other.count_jobs().await.unwrap();
    assert_eq!(counts.values().sum::<u64>(), 2);
}
