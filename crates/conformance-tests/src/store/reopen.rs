//! Closing and reopening (R21, for `durable` stores): jobs, error records, scheduler items,
//! leases and pull order survive closing every handle and opening a new one.

use std::time::Duration;

use remote_core::{CronLists, ErrorRecord, Job, JobStatus, SchedulerItem};
use serde_json::json;

use super::{
    all_jobs, claim, claim_items, claim_one, completed, id, ids, insert, insert_items, item,
    item_id, job, jobs, ms, records, retried, stored, stored_item, t, take_of,
};
use crate::calls::{expired, renew, token};
use crate::support::{t0, TestStore};

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_reopen {
    ($make:expr) => {
        $crate::__area!($make; store::reopen {
            r21_jobs_survive_closing_and_reopening,
            r21_error_records_survive_closing_and_reopening,
            r21_items_and_their_locks_survive_closing_and_reopening,
            r21_leases_survive_closing_and_reopening,
            r21_pull_order_survives_closing_and_reopening,
            r21_reopening_twice_keeps_everything,
        });
    };
}

/// R21: jobs of every status, with every field set, read back exactly after reopening.
pub async fn r21_jobs_survive_closing_and_reopening(store: TestStore) {
    let base = t0() + ms(1_234);
    let batch: Vec<Job> = JobStatus::ALL
        .into_iter()
        .enumerate()
        .map(|(i, status)| Job {
            status,
            input: json!({"n": i, "text": "ü\u{0}😀", "$where": [1.5, null]}),
            output: (status == JobStatus::Completed).then(|| json!({"out": i})),
            attempt: 1,
            max_attempts: 4,
            retry_delay: Duration::from_millis(2_500),
            not_before: Some(base + ms(7)),
            picked_at: Some(base + ms(11)),
            completed_at: status.is_final().then_some(base + ms(13)),
            lease_until: (status == JobStatus::Processing).then_some(base + ms(30_017)),
            lease_token: (status == JobStatus::Processing).then_some(token(-19)),
            ..job(i as u64 + 1, base + ms(i as i64))
        })
        .collect();
    insert(&*store.jobs, &batch).await;
    let reopened = store.reopen().await;
    assert_eq!(all_jobs(&*reopened.jobs).await, batch);
    for job in &batch {
        assert_eq!(&stored(&*reopened.jobs, &job.id).await, job);
    }
}

/// R21: error records, texts of any content included, read back exactly and in order after
/// reopening.
pub async fn r21_error_records_survive_closing_and_reopening(store: TestStore) {
    insert(
        &*store.jobs,
        &[Job {
            max_attempts: 3,
            ..job(1, t(0))
        }],
    )
    .await;
    let texts = ["first ✗", "second \u{0} with nul", "third: {\"$where\": 1}"];
    let mut written: Vec<ErrorRecord> = Vec::new();
    for (n, text) in texts.iter().enumerate() {
        let attempt = n as u32 + 1;
        let now = t(attempt as i64);
        claim_one(&*store.jobs, now, token(attempt as i64)).await;
        let outcome = if attempt < 3 {
            retried(&id(1), token(attempt as i64), attempt, text, now, now)
        } else {
            super::failed(&id(1), token(attempt as i64), attempt, text, now)
        };
        written.push(super::record_of(&outcome).unwrap());
        assert_eq!(
            store.jobs.record_outcomes(&[outcome]).await.unwrap(),
            vec![true]
        );
    }
    let reopened = store.reopen().await;
    assert_eq!(records(&*reopened.jobs, &id(1)).await, written);
    assert_eq!(
        stored(&*reopened.jobs, &id(1)).await.status,
        JobStatus::Error
    );
}

/// R21: items of every kind read back exactly after reopening, a claim's lock included, and
/// the claim's take still applies.
pub async fn r21_items_and_their_locks_survive_closing_and_reopening(store: TestStore) {
    let items = vec![
        item(1, Some(t(5))).with_lock_duration(Duration::from_millis(1_500)),
        SchedulerItem {
            id: item_id(2),
            next_call_time: Some(t(3_600) + ms(1)),
            ..SchedulerItem::cron(
                "cron",
                CronLists {
                    minute: vec![0, 30],
                    hour: vec![2],
                    ..CronLists::default()
                },
            )
        },
        SchedulerItem {
            id: item_id(3),
            ..SchedulerItem::crontab("tab", "0 9 * * mon-fri", "America/New_York")
                .with_active(false)
                .with_input(json!({"a.b": "$set"}))
        },
    ];
    insert_items(&*store.items, &items).await;
    let claimed = claim_items(&*store.items, t(10), t(11) + ms(5), 5).await;
    assert_eq!(claimed.len(), 1);
    let before = store.items.list_items().await.unwrap();
    let reopened = store.reopen().await;
    assert_eq!(reopened.items.list_items().await.unwrap(), before);
    assert_eq!(
        stored_item(&*reopened.items, &item_id(1))
            .await
            .locked_until,
        Some(t(11) + ms(5))
    );
    assert_eq!(
        reopened
            .items
            .take_items(&[take_of(&claimed[0], Some(t(65)), None)])
            .await
            .unwrap(),
        vec![true]
    );
}

/// R8, R21: a claimed attempt keeps its lease and token across reopening: its token still
/// renews and ends it, and once its lease expired it is listed and rescued.
pub async fn r21_leases_survive_closing_and_reopening(store: TestStore) {
    insert(&*store.jobs, &jobs(2)).await;
    let first = claim_one(&*store.jobs, t(1), token(7)).await;
    let second = claim_one(&*store.jobs, t(1), token(8)).await;
    let reopened = store.reopen().await;
    assert_eq!(stored(&*reopened.jobs, &first.id).await, first);
    assert!(renew(&*reopened.jobs, &second.id, token(8), t(100))
        .await
        .unwrap());
    assert!(!renew(&*reopened.jobs, &first.id, token(9), t(100))
        .await
        .unwrap());
    assert_eq!(
        ids(&expired(&*reopened.jobs, t(60), 10).await.unwrap()),
        vec![first.id.clone()],
        "the attempt running when the store closed comes back through lease recovery"
    );
    let rescue = retried(&first.id, token(7), 1, "worker lost", t(70), t(60));
    assert_eq!(
        reopened.jobs.rescue_jobs(&[rescue]).await.unwrap(),
        vec![true]
    );
    assert_eq!(
        reopened
            .jobs
            .record_outcomes(&[completed(&second.id, token(8), json!("done"), t(61))])
            .await
            .unwrap(),
        vec![true]
    );
    assert_eq!(records(&*reopened.jobs, &first.id).await.len(), 1);
}

/// R2, R21: after reopening, claims continue in pull order, a retried job waiting for its
/// `not_before` included.
pub async fn r21_pull_order_survives_closing_and_reopening(store: TestStore) {
    insert(&*store.jobs, &jobs(5)).await;
    claim_one(&*store.jobs, t(1), token(1)).await;
    let retry = retried(&id(1), token(1), 1, "again", t(50), t(2));
    assert_eq!(
        store.jobs.record_outcomes(&[retry]).await.unwrap(),
        vec![true]
    );
    let reopened = store.reopen().await;
    assert_eq!(
        ids(&claim(&*reopened.jobs, t(10), token(2), 2).await),
        vec![id(2), id(3)]
    );
    assert_eq!(
        ids(&claim(&*reopened.jobs, t(50), token(3), 10).await),
        vec![id(1), id(4), id(5)]
    );
}

/// R21: reopening twice (whatever a store runs at open, run again on its own data) keeps
/// everything, and the store keeps working.
pub async fn r21_reopening_twice_keeps_everything(store: TestStore) {
    insert(&*store.jobs, &jobs(3)).await;
    claim_one(&*store.jobs, t(1), token(1)).await;
    insert_items(&*store.items, &[item(1, Some(t(5)))]).await;
    let jobs_before = all_jobs(&*store.jobs).await;
    let items_before = store.items.list_items().await.unwrap();
    let once = store.reopen().await;
    let twice = once.reopen().await;
    assert_eq!(all_jobs(&*twice.jobs).await, jobs_before);
    assert_eq!(twice.items.list_items().await.unwrap(), items_before);
    insert(&*twice.jobs, &[job(4, t(2))]).await;
    assert_eq!(
        ids(&claim(&*twice.jobs, t(3), token(2), 10).await),
        vec![id(2), id(3), id(4)]
    );
}
