//! R34: the misfire policy of scheduler items — what the scheduler does with occurrences it
//! reaches late: fire the due one once (the default), skip it past the grace period, or fire
//! each missed one up to a bound; always one job per occurrence.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use remote_core::{
    handler_fn, CronLists, Error, ItemId, Job, JobContext, JobError, JobFactory, JobId, JobQuery,
    Misfire, Processor, SchedulerItem, MISFIRE_GRACE,
};
use serde_json::json;

use crate::support::{at, t0, unique_name, Harness, TestStore};

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_misfire {
    ($make:expr) => {
        $crate::__area!($make; misfire {
            r34_misfire_fire_once_is_the_default,
            r34_misfire_skip_adds_no_job_for_a_late_occurrence,
            r34_misfire_skip_fires_an_occurrence_reached_within_the_grace,
            r34_misfire_fire_each_adds_one_job_per_missed_occurrence_up_to_the_bound,
            r34_misfire_fire_each_bounds_the_walk_of_a_one_second_delay_after_a_month,
            r34_misfire_fire_each_jobs_are_pulled_in_occurrence_order,
            r34_misfire_fire_each_of_zero_is_invalid_input,
            r34_misfire_fire_each_adds_each_occurrence_once_when_a_scheduler_died,
            r34_misfire_fire_each_with_three_schedulers_adds_each_occurrence_once,
            r34_misfire_policy_can_be_changed_by_an_update,
            r34_pull_next_scheduler_item_adds_no_job_whatever_the_policy,
        });
    };
}

fn secs(n: i64) -> TimeDelta {
    TimeDelta::seconds(n)
}

fn grace() -> TimeDelta {
    TimeDelta::from_std(MISFIRE_GRACE).expect("a short grace")
}

fn quarter_hours() -> CronLists {
    CronLists {
        minute: vec![0, 15, 30, 45],
        ..Default::default()
    }
}

/// Every job, oldest first.
async fn jobs(h: &Harness) -> Vec<Job> {
    h.p.list_jobs(&JobQuery {
        oldest_first: true,
        ..Default::default()
    })
    .await
    .unwrap()
}

/// The ids of every job, sorted.
async fn job_ids(h: &Harness) -> Vec<JobId> {
    let mut ids: Vec<JobId> = jobs(h).await.into_iter().map(|j| j.id).collect();
    ids.sort();
    ids
}

/// The ids of the jobs of `item`'s occurrences at `times`, sorted.
fn occurrence_ids(item: &ItemId, times: &[DateTime<Utc>]) -> Vec<JobId> {
    let mut ids: Vec<JobId> = times
        .iter()
        .map(|t| JobId::for_occurrence(item, *t))
        .collect();
    ids.sort();
    ids
}

async fn next_call(h: &Harness, id: &ItemId) -> Option<DateTime<Utc>> {
    h.p.scheduler_item(id).await.unwrap().next_call_time
}

/// R34: an item added without a policy stores `FireOnce`; its missed occurrences fire once,
/// with the job of the due occurrence, and it moves to its first firing after now (R15).
pub async fn r34_misfire_fire_once_is_the_default(store: TestStore) {
    let h = Harness::new(store);
    let item = SchedulerItem::cron("echo", quarter_hours());
    assert_eq!(item.misfire, Misfire::FireOnce);
    let id = h.p.add_scheduler_item(item).await.unwrap();
    assert_eq!(
        h.p.scheduler_item(&id).await.unwrap().misfire,
        Misfire::FireOnce
    );
    h.clock.set(at("2026-01-01T02:20:00Z"));
    assert_eq!(h.p.fire_due_items().await.unwrap(), 1);
    assert_eq!(h.p.fire_due_items().await.unwrap(), 0);
    assert_eq!(
        job_ids(&h).await,
        [JobId::for_occurrence(&id, at("2026-01-01T00:15:00Z"))]
    );
    assert_eq!(next_call(&h, &id).await, Some(at("2026-01-01T02:30:00Z")));
}

/// R34: a `Skip` item reached more than `MISFIRE_GRACE` late adds no job and moves to its first
/// firing after now; that one, reached on time, fires as usual.
pub async fn r34_misfire_skip_adds_no_job_for_a_late_occurrence(store: TestStore) {
    let h = Harness::new(store);
    let id =
        h.p.add_scheduler_item(
            SchedulerItem::delay("echo", 60)
                .with_misfire(Misfire::Skip)
                .with_next_call_time(t0() + secs(60)),
        )
        .await
        .unwrap();
    let late = t0() + secs(60) + grace() + TimeDelta::milliseconds(1);
    h.clock.set(late);
    assert_eq!(h.p.fire_due_items().await.unwrap(), 0, "too late: skipped");
    assert!(jobs(&h).await.is_empty());
    let item = h.p.scheduler_item(&id).await.unwrap();
    assert_eq!(item.next_call_time, Some(late + secs(60)));
    assert_eq!(item.locked_until, None, "taken, not left locked");
    assert_eq!(h.p.fire_due_items().await.unwrap(), 0, "nothing due now");

    h.clock.set(late + secs(60));
    assert_eq!(h.p.fire_due_items().await.unwrap(), 1, "on time: fires");
    assert_eq!(
        job_ids(&h).await,
        [JobId::for_occurrence(&id, late + secs(60))]
    );
    assert_eq!(next_call(&h, &id).await, Some(late + secs(120)));
}

/// R34: a `Skip` item reached late by at most `MISFIRE_GRACE` (the bound included) fires its
/// due occurrence, as a `FireOnce` item would.
pub async fn r34_misfire_skip_fires_an_occurrence_reached_within_the_grace(store: TestStore) {
    let h = Harness::new(store);
    let id =
        h.p.add_scheduler_item(
            SchedulerItem::cron("echo", quarter_hours()).with_misfire(Misfire::Skip),
        )
        .await
        .unwrap();
    let due = at("2026-01-01T00:15:00Z");
    assert_eq!(next_call(&h, &id).await, Some(due));
    h.clock.set(due + grace());
    assert_eq!(h.p.fire_due_items().await.unwrap(), 1);
    assert_eq!(job_ids(&h).await, [JobId::for_occurrence(&id, due)]);
    assert_eq!(next_call(&h, &id).await, Some(at("2026-01-01T00:30:00Z")));
    h.clock.set(at("2026-01-01T00:30:05Z"));
    assert_eq!(h.p.fire_due_items().await.unwrap(), 1);
    assert_eq!(jobs(&h).await.len(), 2);
}

/// R34: a `FireEach { max }` item adds one job per missed occurrence, from its due
/// `next_call_time` on, the earliest `max` of them; the later ones are skipped and it moves to
/// its first firing after now. Fewer missed occurrences than `max` all fire.
pub async fn r34_misfire_fire_each_adds_one_job_per_missed_occurrence_up_to_the_bound(
    store: TestStore,
) {
    let h = Harness::new(store);
    let bounded =
        h.p.add_scheduler_item(
            SchedulerItem::cron("echo", quarter_hours())
                .with_input(json!("bounded"))
                .with_misfire(Misfire::FireEach { max: 3 }),
        )
        .await
        .unwrap();
    let roomy =
        h.p.add_scheduler_item(
            SchedulerItem::cron("echo", quarter_hours())
                .with_input(json!("roomy"))
                .with_misfire(Misfire::FireEach { max: 100 }),
        )
        .await
        .unwrap();
    h.clock.set(at("2026-01-01T02:20:00Z"));
    assert_eq!(h.p.fire_due_items().await.unwrap(), 3 + 9);
    assert_eq!(h.p.fire_due_items().await.unwrap(), 0);

    let first_three = ["00:15", "00:30", "00:45"].map(|m| at(&format!("2026-01-01T{m}:00Z")));
    let all_nine: Vec<DateTime<Utc>> = (1..=9).map(|n| t0() + TimeDelta::minutes(15 * n)).collect();
    let all = jobs(&h).await;
    let ids_of = |input: &str| {
        let mut ids: Vec<JobId> = all
            .iter()
            .filter(|j| j.input == json!(input))
            .map(|j| j.id.clone())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(ids_of("bounded"), occurrence_ids(&bounded, &first_three));
    assert_eq!(ids_of("roomy"), occurrence_ids(&roomy, &all_nine));
    assert!(all
        .iter()
        .all(|j| j.job_name == "echo" && j.queued_at == at("2026-01-01T02:20:00Z")));
    for id in [&bounded, &roomy] {
        assert_eq!(next_call(&h, id).await, Some(at("2026-01-01T02:30:00Z")));
    }

    h.clock.set(at("2026-01-01T02:30:00Z"));
    assert_eq!(h.p.fire_due_items().await.unwrap(), 2, "on time: one each");
    assert_eq!(jobs(&h).await.len(), 14);
}

/// R34: a one-second Delay item with `FireEach { max: 5 }` reached after a month offline adds
/// five jobs, the earliest occurrences, and moves to one second after now: the walk stops at
/// the bound instead of visiting millions of missed seconds.
pub async fn r34_misfire_fire_each_bounds_the_walk_of_a_one_second_delay_after_a_month(
    store: TestStore,
) {
    let h = Harness::new(store);
    let id =
        h.p.add_scheduler_item(
            SchedulerItem::delay("echo", 1).with_misfire(Misfire::FireEach { max: 5 }),
        )
        .await
        .unwrap();
    let due = t0() + secs(1);
    let now = t0() + TimeDelta::days(31);
    h.clock.set(now);
    let started = std::time::Instant::now();
    assert_eq!(h.p.fire_due_items().await.unwrap(), 5);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the walk is bounded"
    );
    let times: Vec<DateTime<Utc>> = (0..5).map(|n| due + secs(n)).collect();
    assert_eq!(job_ids(&h).await, occurrence_ids(&id, &times));
    assert_eq!(next_call(&h, &id).await, Some(now + secs(1)));
}

/// R34: the jobs of the missed occurrences are queued at the firing time and pulled in the
/// order of their occurrences (their ids start with the occurrence's seconds, R2).
pub async fn r34_misfire_fire_each_jobs_are_pulled_in_occurrence_order(store: TestStore) {
    let h = Harness::new(store);
    let id =
        h.p.add_scheduler_item(
            SchedulerItem::delay("echo", 90).with_misfire(Misfire::FireEach { max: 4 }),
        )
        .await
        .unwrap();
    h.clock.set(t0() + TimeDelta::hours(1));
    assert_eq!(h.p.fire_due_items().await.unwrap(), 4);
    let mut pulled = Vec::new();
    while let Some(job) = h.p.pull_next_job().await.unwrap() {
        pulled.push(job.id);
    }
    let expected: Vec<JobId> = (1..=4)
        .map(|n| JobId::for_occurrence(&id, t0() + secs(90 * n)))
        .collect();
    assert_eq!(pulled, expected);
}

/// R34: `FireEach { max: 0 }` could never fire: adding it is `Error::InvalidInput` and stores
/// nothing; updating an item to it is refused and leaves the stored item as it was.
pub async fn r34_misfire_fire_each_of_zero_is_invalid_input(store: TestStore) {
    let h = Harness::new(store);
    let never = SchedulerItem::delay("echo", 60).with_misfire(Misfire::FireEach { max: 0 });
    let result = h.p.add_scheduler_item(never).await;
    assert!(matches!(result, Err(Error::InvalidInput(_))), "{result:?}");
    assert!(h.p.scheduler_items().await.unwrap().is_empty());

    let id =
        h.p.add_scheduler_item(
            SchedulerItem::delay("echo", 60).with_misfire(Misfire::FireEach { max: 1 }),
        )
        .await
        .unwrap();
    let stored = h.p.scheduler_item(&id).await.unwrap();
    let result =
        h.p.update_scheduler_item(SchedulerItem {
            misfire: Misfire::FireEach { max: 0 },
            ..stored.clone()
        })
        .await;
    assert!(matches!(result, Err(Error::InvalidInput(_))), "{result:?}");
    assert_eq!(h.p.scheduler_item(&id).await.unwrap(), stored);
}

/// R34, R15: a scheduler that died after storing some occurrences' jobs leaves them; the next
/// one stores the missing ones only and takes the item, so each occurrence has one job.
pub async fn r34_misfire_fire_each_adds_each_occurrence_once_when_a_scheduler_died(
    store: TestStore,
) {
    let h = Harness::new(store);
    let id =
        h.p.add_scheduler_item(
            SchedulerItem::delay("echo", 60)
                .with_input(json!("tick"))
                .with_misfire(Misfire::FireEach { max: 10 }),
        )
        .await
        .unwrap();
    let times: Vec<DateTime<Utc>> = (1..=4).map(|n| t0() + secs(60 * n)).collect();
    let mut stored = Job::queued("echo", json!("tick"), 3, Duration::from_secs(10), t0());
    stored.id = JobId::for_occurrence(&id, times[1]);
    crate::calls::insert(&*h.jobs, std::slice::from_ref(&stored))
        .await
        .unwrap();

    h.clock.set(t0() + secs(270));
    assert_eq!(h.p.fire_due_items().await.unwrap(), 4);
    assert_eq!(job_ids(&h).await, occurrence_ids(&id, &times));
    assert_eq!(next_call(&h, &id).await, Some(t0() + secs(330)));
}

/// R34, R25: three schedulers firing `FireEach` items at once add one job per missed
/// occurrence, round after round, and their counts add up to the occurrences fired.
pub async fn r34_misfire_fire_each_with_three_schedulers_adds_each_occurrence_once(
    store: TestStore,
) {
    let h = Harness::new(store);
    let schedulers: Vec<Processor> = (0..3)
        .map(|_| {
            let p = h.processor(&unique_name("scheduler"));
            p.register(JobFactory::new(
                "echo",
                handler_fn(|ctx: JobContext| async move { Ok::<_, JobError>(ctx.input) }),
            ))
            .unwrap();
            p
        })
        .collect();
    let mut items = Vec::new();
    for n in 0..3 {
        items.push(
            h.p.add_scheduler_item(
                SchedulerItem::delay("echo", 60)
                    .with_input(json!(n))
                    .with_misfire(Misfire::FireEach { max: 6 }),
            )
            .await
            .unwrap(),
        );
    }
    let mut expected = Vec::new();
    let mut due = t0() + secs(60);
    for round in 1..=3 {
        let now = t0() + TimeDelta::hours(round);
        h.clock.set(now);
        let tasks: Vec<_> = schedulers
            .iter()
            .cloned()
            .map(|p| tokio::spawn(async move { p.fire_due_items().await.unwrap() }))
            .collect();
        let mut fired = 0;
        for task in tasks {
            fired += task.await.unwrap();
        }
        assert_eq!(fired, 3 * 6, "round {round}");
        let times: Vec<DateTime<Utc>> = (0..6).map(|k| due + secs(60 * k)).collect();
        for id in &items {
            expected.extend(occurrence_ids(id, &times));
        }
        due = now + secs(60);
    }
    expected.sort();
    assert_eq!(job_ids(&h).await, expected, "one job per occurrence");
}

/// R34: the policy is stored with the item and an update changes it; the next firing
/// follows the new one.
pub async fn r34_misfire_policy_can_be_changed_by_an_update(store: TestStore) {
    let h = Harness::new(store);
    let id =
        h.p.add_scheduler_item(SchedulerItem::delay("echo", 60))
            .await
            .unwrap();
    let stored = h.p.scheduler_item(&id).await.unwrap();
    let updated =
        h.p.update_scheduler_item(SchedulerItem {
            misfire: Misfire::FireEach { max: 2 },
            ..stored.clone()
        })
        .await
        .unwrap();
    assert_eq!(updated.misfire, Misfire::FireEach { max: 2 });
    assert_eq!(
        updated.next_call_time, stored.next_call_time,
        "rule unchanged"
    );
    assert_eq!(h.p.scheduler_item(&id).await.unwrap(), updated);
    h.clock.set(t0() + TimeDelta::hours(1));
    assert_eq!(h.p.fire_due_items().await.unwrap(), 2);

    h.p.update_scheduler_item(SchedulerItem {
        misfire: Misfire::Skip,
        ..h.p.scheduler_item(&id).await.unwrap()
    })
    .await
    .unwrap();
    h.clock.set(t0() + TimeDelta::hours(2));
    assert_eq!(h.p.fire_due_items().await.unwrap(), 0);
    assert_eq!(jobs(&h).await.len(), 2);
}

/// R34: `pull_next_scheduler_item` takes a due item by hand, locks it and advances it as
/// for any policy (R15); it adds no job, so neither `Skip` nor `FireEach` changes what it does.
pub async fn r34_pull_next_scheduler_item_adds_no_job_whatever_the_policy(store: TestStore) {
    let h = Harness::new(store);
    for misfire in [Misfire::Skip, Misfire::FireEach { max: 5 }] {
        h.p.add_scheduler_item(
            SchedulerItem::delay("echo", 60)
                .with_lock_duration(Duration::from_secs(30))
                .with_misfire(misfire),
        )
        .await
        .unwrap();
    }
    let now = t0() + TimeDelta::hours(1);
    h.clock.set(now);
    for _ in 0..2 {
        let pulled = h.p.pull_next_scheduler_item().await.unwrap().expect("due");
        assert_eq!(pulled.next_call_time, Some(now + secs(60)));
        assert_eq!(pulled.locked_until, Some(now + secs(30)));
    }
    assert!(h.p.pull_next_scheduler_item().await.unwrap().is_none());
    assert!(jobs(&h).await.is_empty());
}
