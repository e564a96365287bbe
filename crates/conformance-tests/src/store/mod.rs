//! The store-contract layer: the [`JobStore`] and [`SchedulerStore`] methods called directly,
//! one module per method, so that a failing case names the method at fault
//! (`store::claim_jobs::r2_…`). Every time is an argument: the cases hand the store `now`.
//!
//! Besides the methods: `open` (handles opened again or at once on the same data), `reopen`
//! (data that survives closing, for `durable` stores), `wakeups` and `json` (R22 round trips).

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use remote_core::{
    ClaimItems, ClaimJobs, ErrorRecord, InsertJobs, ItemId, Job, JobId, JobQuery, JobStatus,
    JobStore, LeaseToken, OnConflict, Outcome, SchedulerItem, SchedulerStore, StatusCounts, Take,
};
use serde_json::{json, Value};

use crate::support::t0;

pub mod cancel_job;
pub mod claim_items;
pub mod claim_jobs;
pub mod count_jobs;
pub mod cross_process_wakeups;
pub mod expired_leases;
pub mod get_job;
pub mod insert_jobs;
pub mod items;
pub mod job_errors;
pub mod json;
pub mod leaders;
pub mod list_jobs;
pub mod open;
pub mod paused_names;
pub mod record_outcomes;
pub mod release_jobs;
pub mod remove_jobs;
pub mod renew_leases;
pub mod reopen;
pub mod rescue_jobs;
pub mod retry_jobs;
pub mod take_items;
pub mod wakeups;

/// The store layer's modules that every store runs (the gated ones are in `__layers!`).
#[doc(hidden)]
#[macro_export]
macro_rules! __store_layer {
    ($make:expr) => {
        $crate::__cases_store_insert_jobs!($make);
        $crate::__cases_store_claim_jobs!($make);
        $crate::__cases_store_record_outcomes!($make);
        $crate::__cases_store_rescue_jobs!($make);
        $crate::__cases_store_release_jobs!($make);
        $crate::__cases_store_renew_leases!($make);
        $crate::__cases_store_expired_leases!($make);
        $crate::__cases_store_cancel_job!($make);
        $crate::__cases_store_get_job!($make);
        $crate::__cases_store_job_errors!($make);
        $crate::__cases_store_list_jobs!($make);
        $crate::__cases_store_count_jobs!($make);
        $crate::__cases_store_remove_jobs!($make);
        $crate::__cases_store_retry_jobs!($make);
        $crate::__cases_store_paused_names!($make);
        $crate::__cases_store_leaders!($make);
        $crate::__cases_store_items!($make);
        $crate::__cases_store_claim_items!($make);
        $crate::__cases_store_take_items!($make);
        $crate::__cases_store_json!($make);
        $crate::__cases_store_open!($make);
    };
}

/// The name of the jobs the store cases add.
pub(crate) const ECHO: &str = "echo";

/// The lease the store cases' claims write: 30 s from the claim.
pub(crate) const LEASE: TimeDelta = TimeDelta::seconds(30);

/// `t0 + n` seconds.
pub(crate) fn t(n: i64) -> DateTime<Utc> {
    t0() + TimeDelta::seconds(n)
}

/// `n` milliseconds.
pub(crate) fn ms(n: i64) -> TimeDelta {
    TimeDelta::milliseconds(n)
}

/// `n` seconds.
pub(crate) fn secs(n: i64) -> TimeDelta {
    TimeDelta::seconds(n)
}

/// The job id written as `n` in 24 hex digits: ids that sort as their numbers.
pub(crate) fn id(n: u64) -> JobId {
    JobId::parse(&format!("{n:024x}")).expect("24 hex digits")
}

/// The item id written as `n` in 24 hex digits.
pub(crate) fn item_id(n: u64) -> ItemId {
    ItemId::parse(&format!("{n:024x}")).expect("24 hex digits")
}

/// A queued `echo` job with id `n`, input `n`, queued at `queued_at`.
pub(crate) fn job(n: u64, queued_at: DateTime<Utc>) -> Job {
    named(ECHO, n, queued_at)
}

/// A queued job of `name` with id `n`, input `n`, queued at `queued_at`.
pub(crate) fn named(name: &str, n: u64, queued_at: DateTime<Utc>) -> Job {
    Job {
        id: id(n),
        ..Job::queued(name, json!(n), 3, Duration::from_secs(10), queued_at)
    }
}

/// `echo` jobs `1..=n`, queued one millisecond apart from `t0` (pull order = number order).
pub(crate) fn jobs(n: u64) -> Vec<Job> {
    (1..=n).map(|i| job(i, t0() + ms(i as i64))).collect()
}

/// Inserts `jobs`, refusing stored ids; all must be inserted.
pub(crate) async fn insert(store: &dyn JobStore, jobs: &[Job]) {
    let answers = store
        .insert_jobs(&InsertJobs {
            jobs,
            on_conflict: OnConflict::Refuse,
        })
        .await
        .expect("insert_jobs");
    assert!(
        answers.iter().all(remote_core::Inserted::is_stored),
        "every job inserted: {answers:?}"
    );
}

/// `names` as owned strings.
pub(crate) fn names(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

/// Claims up to `limit` `echo` jobs at `now` under `token`, lease [`LEASE`].
pub(crate) async fn claim(
    store: &dyn JobStore,
    now: DateTime<Utc>,
    token: LeaseToken,
    limit: usize,
) -> Vec<Job> {
    let names = names(&[ECHO]);
    store
        .claim_jobs(&ClaimJobs {
            names: &names,
            now,
            lease_until: now + LEASE,
            token,
            limit,
        })
        .await
        .expect("claim_jobs")
}

/// Claims exactly the one next `echo` job at `now` under `token`.
pub(crate) async fn claim_one(store: &dyn JobStore, now: DateTime<Utc>, token: LeaseToken) -> Job {
    let mut claimed = claim(store, now, token, 1).await;
    assert_eq!(claimed.len(), 1, "one job claimed at {now}");
    claimed.remove(0)
}

/// The ids of `jobs`, in order.
pub(crate) fn ids(jobs: &[Job]) -> Vec<JobId> {
    jobs.iter().map(|j| j.id.clone()).collect()
}

/// The stored job, which must exist.
pub(crate) async fn stored(store: &dyn JobStore, id: &JobId) -> Job {
    store
        .get_job(id)
        .await
        .expect("get_job")
        .unwrap_or_else(|| panic!("job {id} is stored"))
}

/// The stored job's error records, which must exist.
pub(crate) async fn records(store: &dyn JobStore, id: &JobId) -> Vec<ErrorRecord> {
    store
        .job_errors(id)
        .await
        .expect("job_errors")
        .unwrap_or_else(|| panic!("job {id} is stored"))
}

/// Every stored job, oldest first.
pub(crate) async fn all_jobs(store: &dyn JobStore) -> Vec<Job> {
    store
        .list_jobs(&JobQuery {
            oldest_first: true,
            ..JobQuery::default()
        })
        .await
        .expect("list_jobs")
}

/// The count of `status` in `counts` (absent: 0).
pub(crate) fn count(counts: &StatusCounts, status: JobStatus) -> u64 {
    counts.get(&status).copied().unwrap_or(0)
}

/// The outcome completing `id`'s attempt under `token` with `output` at `now`.
pub(crate) fn completed(
    id: &JobId,
    token: LeaseToken,
    output: Value,
    now: DateTime<Utc>,
) -> Outcome {
    crate::calls::completion(id, token, output, now)
}

/// The outcome failing `id`'s attempt `attempt` with `message`, retried at `not_before`.
pub(crate) fn retried(
    id: &JobId,
    token: LeaseToken,
    attempt: u32,
    message: &str,
    not_before: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Outcome {
    let record = ErrorRecord::new(attempt, message, now);
    crate::calls::failure(id, token, record, Some(not_before), now)
}

/// The outcome failing `id`'s attempt `attempt` with `message` for good.
pub(crate) fn failed(
    id: &JobId,
    token: LeaseToken,
    attempt: u32,
    message: &str,
    now: DateTime<Utc>,
) -> Outcome {
    let record = ErrorRecord::new(attempt, message, now);
    crate::calls::failure(id, token, record, None, now)
}

/// The error record an outcome appends, if any.
pub(crate) fn record_of(outcome: &Outcome) -> Option<ErrorRecord> {
    match &outcome.kind {
        remote_core::OutcomeKind::Completed { .. } | remote_core::OutcomeKind::Snooze { .. } => {
            None
        }
        remote_core::OutcomeKind::Retry { record, .. }
        | remote_core::OutcomeKind::Failed { record } => Some(record.clone()),
    }
}

/// An active Delay item with id `n`, due at `next_call_time`, unlocked.
pub(crate) fn item(n: u64, next_call_time: Option<DateTime<Utc>>) -> SchedulerItem {
    SchedulerItem {
        id: item_id(n),
        next_call_time,
        ..SchedulerItem::delay(ECHO, 60).with_input(json!({ "item": n }))
    }
}

/// Inserts `items`.
pub(crate) async fn insert_items(store: &dyn SchedulerStore, items: &[SchedulerItem]) {
    for item in items {
        store.insert_item(item).await.expect("insert_item");
    }
}

/// The stored item, which must exist.
pub(crate) async fn stored_item(store: &dyn SchedulerStore, id: &ItemId) -> SchedulerItem {
    store
        .get_item(id)
        .await
        .expect("get_item")
        .unwrap_or_else(|| panic!("item {id} is stored"))
}

/// Claims up to `limit` due items at `now`, locking them until `locked_until`.
pub(crate) async fn claim_items(
    store: &dyn SchedulerStore,
    now: DateTime<Utc>,
    locked_until: DateTime<Utc>,
    limit: usize,
) -> Vec<SchedulerItem> {
    store
        .claim_items(&ClaimItems {
            now,
            locked_until,
            limit,
        })
        .await
        .expect("claim_items")
}

/// The ids of `items`, in order.
pub(crate) fn item_ids(items: &[SchedulerItem]) -> Vec<ItemId> {
    items.iter().map(|i| i.id.clone()).collect()
}

/// The take of a claimed `item` (its read `next_call_time` and lock expected), writing `next`
/// and `locked_until`.
pub(crate) fn take_of(
    item: &SchedulerItem,
    next: Option<DateTime<Utc>>,
    locked_until: Option<DateTime<Utc>>,
) -> Take {
    Take {
        id: item.id.clone(),
        expected_next_call_time: item.next_call_time.expect("a claimed item is due"),
        expected_locked_until: item.locked_until.expect("a claimed item is locked"),
        next_call_time: next,
        locked_until,
    }
}
