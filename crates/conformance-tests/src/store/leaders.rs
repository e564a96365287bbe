//! `JobStore::acquire_leader` and `leaders` (R33): a named lease that one holder has at a
//! time, renewed by its holder, free once it ended, with the holder's note.

use remote_core::{AcquireLeader, Leader};
use serde_json::{json, Value};

use super::t;
use crate::support::TestStore;

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_store_leaders {
    ($make:expr) => {
        $crate::__area!($make; store::leaders {
            r33_a_lease_never_held_is_won,
            r33_a_held_lease_is_refused_to_others_until_it_ends,
            r33_the_holder_renews_and_writes_its_note,
            r33_bids_racing_on_two_handles_have_one_winner,
        });
    };
}

async fn bid(store: &TestStore, holder: &str, until: i64, now: i64, note: Option<&Value>) -> bool {
    store
        .jobs
        .acquire_leader(&AcquireLeader {
            name: "prune",
            holder,
            until: t(until),
            now: t(now),
            note,
        })
        .await
        .unwrap()
}

/// R33: a lease nobody held is won; `leaders` lists it with a `null` note.
pub async fn r33_a_lease_never_held_is_won(store: TestStore) {
    assert!(store.jobs.leaders().await.unwrap().is_empty());
    assert!(bid(&store, "a", 30, 0, None).await);
    assert_eq!(
        store.jobs.leaders().await.unwrap(),
        vec![Leader {
            name: "prune".into(),
            holder: "a".into(),
            until: t(30),
            note: Value::Null,
        }]
    );
}

/// R33: another holder is refused while the lease runs, to its last millisecond, and wins it
/// once it ended.
pub async fn r33_a_held_lease_is_refused_to_others_until_it_ends(store: TestStore) {
    assert!(bid(&store, "a", 30, 0, None).await);
    assert!(!bid(&store, "b", 60, 29, None).await);
    assert_eq!(store.jobs.leaders().await.unwrap()[0].holder, "a");
    assert!(bid(&store, "b", 60, 30, None).await);
    let leaders = store.jobs.leaders().await.unwrap();
    assert_eq!((leaders[0].holder.as_str(), leaders[0].until), ("b", t(60)));
    assert!(!bid(&store, "a", 90, 31, None).await);
}

/// R33: the holder renews its lease before it ends; a note given is stored, and kept by a
/// renewal without one.
pub async fn r33_the_holder_renews_and_writes_its_note(store: TestStore) {
    assert!(bid(&store, "a", 30, 0, None).await);
    let note = json!({"last_run": "2026-01-01T00:00:10Z", "removed": {"completed": 3}});
    assert!(bid(&store, "a", 40, 10, Some(&note)).await);
    assert!(bid(&store, "a", 50, 20, None).await);
    let leaders = store.jobs.leaders().await.unwrap();
    assert_eq!((leaders[0].until, &leaders[0].note), (t(50), &note));
}

/// R33: bids of many holders racing on two handles for a free lease: exactly one wins.
pub async fn r33_bids_racing_on_two_handles_have_one_winner(store: TestStore) {
    let other = store.another_handle().await;
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let jobs = if i % 2 == 0 {
                store.jobs.clone()
            } else {
                other.jobs.clone()
            };
            tokio::spawn(async move {
                let holder = format!("holder-{i}");
                jobs.acquire_leader(&AcquireLeader {
                    name: "prune",
                    holder: &holder,
                    until: t(30),
                    now: t(0),
                    note: None,
                })
                .await
                .unwrap()
                .then_some(holder)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        winners.extend(task.await.unwrap());
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert_eq!(store.jobs.leaders().await.unwrap()[0].holder, winners[0]);
}
