//! `JobStore::pause_names` and `paused_names` (R31): paused job names are stored with the time
//! they were paused, until resumed.

use remote_core::{PauseNames, PausedName};

use super::t;
use crate::support::TestStore;

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_store_paused_names {
    ($make:expr) => {
        $crate::__area!($make; store::paused_names {
            r31_paused_names_are_listed_by_name_with_their_time,
            r31_pausing_a_paused_name_keeps_its_time,
            r31_resuming_removes_a_name_and_a_name_never_paused_is_harmless,
            r31_another_handle_sees_the_paused_names,
        });
    };
}

async fn pause(store: &TestStore, names: &[&str], paused: bool, at: i64) {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    store
        .jobs
        .pause_names(&PauseNames {
            names: &names,
            paused,
            now: t(at),
        })
        .await
        .unwrap();
}

fn paused(name: &str, at: i64) -> PausedName {
    PausedName {
        name: name.to_owned(),
        since: t(at),
    }
}

/// R31: names are listed in name order with the time they were paused.
pub async fn r31_paused_names_are_listed_by_name_with_their_time(store: TestStore) {
    assert!(store.jobs.paused_names().await.unwrap().is_empty());
    pause(&store, &["mail", "a-report"], true, 5).await;
    pause(&store, &["zip"], true, 7).await;
    assert_eq!(
        store.jobs.paused_names().await.unwrap(),
        vec![paused("a-report", 5), paused("mail", 5), paused("zip", 7)]
    );
}

/// R31: pausing a name that is paused keeps the time it was first paused.
pub async fn r31_pausing_a_paused_name_keeps_its_time(store: TestStore) {
    pause(&store, &["mail"], true, 5).await;
    pause(&store, &["mail"], true, 9).await;
    assert_eq!(
        store.jobs.paused_names().await.unwrap(),
        vec![paused("mail", 5)]
    );
}

/// R31: resuming removes a name; resuming a name never paused changes nothing.
pub async fn r31_resuming_removes_a_name_and_a_name_never_paused_is_harmless(store: TestStore) {
    pause(&store, &["mail", "sms"], true, 5).await;
    pause(&store, &["mail", "never"], false, 6).await;
    assert_eq!(
        store.jobs.paused_names().await.unwrap(),
        vec![paused("sms", 5)]
    );
}

/// R31: a second handle, like another process, sees what the first paused.
pub async fn r31_another_handle_sees_the_paused_names(store: TestStore) {
    let other = store.another_handle().await;
    pause(&store, &["mail"], true, 5).await;
    assert_eq!(
        other.jobs.paused_names().await.unwrap(),
        vec![paused("mail", 5)]
    );
}
