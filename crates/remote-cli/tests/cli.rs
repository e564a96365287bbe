//! The `remote` command end to end: operator commands, workers, scheduler and serve as real
//! processes on a temporary SQLite file, and the operator commands and workers on every other
//! store: PostgreSQL, MariaDB, MongoDB and Redis, each test in a place of its own.

mod common;

use std::time::Duration;

use common::stores::ServerStore;
use common::{eventually, exit, http, json, run, sqlite_store, Background, Ran};
use serde_json::json;

/// Every operator command on a store of this `kind`, with no worker running.
fn operator_flow(store: &str, kind: &str) {
    let id = json(store, &["add", "echo", r#"{"n": 1}"#])["id"]
        .as_str()
        .expect("add prints the id")
        .to_string();
    assert_eq!(exit(store, &["status", &id], 0).stdout.trim(), "queued");
    let listed = json(
        store,
        &[
            "jobs", "--name", "echo", "--status", "queued", "--limit", "500",
        ],
    );
    assert!(
        listed
            .as_array()
            .is_some_and(|jobs| jobs.iter().any(|j| j["id"] == id)),
        "{listed}"
    );
    let table = exit(store, &["jobs", "--name", "echo", "--limit", "500"], 0).stdout;
    assert!(table.starts_with("ID") && table.contains(&id), "{table}");
    exit(store, &["jobs", "--status", "bogus"], 2);
    exit(store, &["jobs", "--page", "0"], 2);
    let stats = json(store, &["stats"]);
    assert!(
        stats["queued"].as_u64().is_some_and(|n| n >= 1) && stats["total"].is_u64(),
        "{stats}"
    );
    assert_eq!(stats["store"]["kind"], kind, "{stats}");
    let text = exit(store, &["stats"], 0).stdout;
    assert!(
        text.starts_with(&format!("store: {kind} (")) && text.contains("queued"),
        "{text}"
    );

    exit(store, &["result", &id], 1); // no result yet
    assert_eq!(json(store, &["errors", &id]), json!([]));

    assert_eq!(
        json(store, &["cancel", &id]),
        json!({"id": id, "cancelled": true, "was": "queued"})
    );
    let again = exit(store, &["cancel", &id], 1);
    assert!(
        again.stderr.contains("already cancelled"),
        "{}",
        again.stderr
    );
    assert_eq!(exit(store, &["status", &id], 0).stdout.trim(), "cancelled");
    let removed = json(store, &["remove", "cancelled"]);
    assert!(
        removed["cancelled"].as_u64().is_some_and(|n| n >= 1),
        "{removed}"
    );
    exit(store, &["status", &id], 3); // removed jobs are not found
    exit(store, &["remove", "queued"], 2); // live jobs are not removed
    let removed = json(store, &["remove"]);
    assert!(
        removed["completed"].is_u64() && removed["error"].is_u64(),
        "{removed}"
    );

    let later = json(store, &["add", "echo", "--at", "2030-01-01T00:00:00Z"])["id"].clone();
    let jobs = json(store, &["jobs", "--name", "echo", "--limit", "500"]);
    let job = jobs
        .as_array()
        .and_then(|j| j.iter().find(|j| j["id"] == later))
        .cloned();
    assert_eq!(
        job.map(|j| (j["not_before"].clone(), j["attempt"].clone())),
        Some((json!("2030-01-01T00:00:00Z"), json!(0)))
    );
    exit(store, &["add", "echo", "--at", "tomorrow"], 2);

    let unknown = exit(store, &["add", "nope"], 2);
    assert!(
        unknown.stderr.contains("unknown job 'nope'"),
        "{}",
        unknown.stderr
    );
    let forced = json(
        store,
        &[
            "add",
            "nope",
            "[1, 2]",
            "--force",
            "--max-attempts",
            "5",
            "--retry-delay",
            "2s",
        ],
    )["id"]
        .clone();
    let jobs = json(store, &["jobs", "--name", "nope", "--limit", "500"]);
    assert!(
        jobs.as_array()
            .is_some_and(|j| j.iter().any(|j| j["id"] == forced
                && j["max_attempts"] == 5
                && j["retry_delay"] == 2000
                && j["input"] == json!([1, 2]))),
        "{jobs}"
    );
    exit(store, &["add", "echo", "--max-attempts", "0"], 2);
    exit(store, &["add", "echo", "--max-retries", "5"], 2); // renamed to --max-attempts
    exit(store, &["add", "echo", "{bad"], 2);
    exit(store, &["status", "zzz"], 2);
    exit(store, &["status", "0123456789abcdef01234567"], 3);
    exit(store, &["cancel", "0123456789abcdef01234567"], 3);
    for id in [&later, &forced] {
        exit(store, &["cancel", id.as_str().unwrap_or_default()], 0);
    }
    exit(store, &["remove", "cancelled"], 0);

    features_flow(store);
    schedule_flow(store);
}

/// The id of a job in `add --json` output, and whether it was a duplicate.
fn added(store: &str, args: &[&str]) -> (String, bool) {
    let out = json(store, args);
    let id = out["id"].as_str().expect("add prints the id").to_string();
    let duplicate = out["duplicate"]
        .as_bool()
        .expect("add says whether it was a duplicate");
    (id, duplicate)
}

/// The job of this id as `jobs --json` lists it.
fn listed_job(store: &str, name: &str, id: &str) -> serde_json::Value {
    let jobs = json(store, &["jobs", "--name", name, "--limit", "500"]);
    jobs.as_array()
        .and_then(|jobs| jobs.iter().find(|j| j["id"] == id).cloned())
        .unwrap_or_else(|| panic!("job {id} not listed: {jobs}"))
}

/// Priorities, unique keys, timeouts, retries of dead jobs, paused names, removal by age and
/// pruning, with no worker running (R26–R31, R33).
fn features_flow(store: &str) {
    let (id, duplicate) = added(
        store,
        &[
            "add",
            "echo",
            r#"{"n": 1}"#,
            "--priority",
            "5",
            "--timeout",
            "30s",
            "--unique-key",
            "nightly",
        ],
    );
    assert!(!duplicate);
    let job = listed_job(store, "echo", &id);
    assert_eq!(
        (
            &job["priority"],
            &job["timeout"],
            &job["unique_key"],
            &job["unique_across"],
            &job["snoozes"]
        ),
        (
            &json!(5),
            &json!(30_000),
            &json!("nightly"),
            &json!(["queued", "processing"]),
            &json!(0)
        ),
        "{job}"
    );
    let again = exit(
        store,
        &[
            "--json",
            "add",
            "echo",
            r#"{"n": 2}"#,
            "--unique-key",
            "nightly",
        ],
        0,
    );
    assert_eq!(again.json(), json!({"id": id, "duplicate": true}));
    assert!(
        again
            .stderr
            .contains(&format!("unique key is queued or running: {id}")),
        "{}",
        again.stderr
    );
    let text = exit(store, &["add", "echo", "--unique-key", "nightly"], 0);
    assert_eq!(text.stdout.trim(), id, "a duplicate prints the holder's id");

    let (by_user, _) = added(
        store,
        &[
            "add",
            "echo",
            r#"{"user": 7, "x": 1}"#,
            "--unique-by",
            "user",
        ],
    );
    assert_eq!(
        added(
            store,
            &[
                "add",
                "echo",
                r#"{"x": 2, "user": 7}"#,
                "--unique-by",
                "user"
            ]
        ),
        (by_user.clone(), true)
    );
    assert!(
        !added(
            store,
            &["add", "echo", r#"{"user": 8}"#, "--unique-by", "user"]
        )
        .1
    );
    let (whole, _) = added(
        store,
        &["add", "echo", r#"{"a": [1, 2]}"#, "--unique-input"],
    );
    assert_eq!(
        added(
            store,
            &["add", "echo", r#"{"a": [1, 2]}"#, "--unique-input"]
        ),
        (whole.clone(), true)
    );
    // unique across completed too: a cancelled holder frees the key, a new job is stored
    let (held, _) = added(
        store,
        &[
            "add",
            "echo",
            "--unique-key",
            "once",
            "--unique-across",
            "queued,completed",
        ],
    );
    let job = listed_job(store, "echo", &held);
    assert_eq!(
        job["unique_across"],
        json!(["queued", "processing", "completed"]),
        "{job}"
    );
    exit(store, &["cancel", &held], 0);
    assert!(!added(store, &["add", "echo", "--unique-key", "once"]).1);
    let (low, _) = added(store, &["add", "echo", "--priority", "-3"]);
    assert_eq!(listed_job(store, "echo", &low)["priority"], -3);

    exit(store, &["add", "echo", "--priority", "40000"], 2);
    exit(store, &["add", "echo", "--timeout", "0s"], 2);
    exit(
        store,
        &["add", "echo", "--unique-key", "a", "--unique-input"],
        2,
    );
    exit(
        store,
        &["add", "echo", "--unique-by", "a", "--unique-input"],
        2,
    );
    exit(store, &["add", "echo", "--unique-across", "completed"], 2);
    exit(
        store,
        &[
            "add",
            "echo",
            "--unique-key",
            "a",
            "--unique-across",
            "bogus",
        ],
        2,
    );

    // pause and resume a name
    assert_eq!(
        json(store, &["pause", "echo"]),
        json!({"name": "echo", "paused": true})
    );
    let stats = json(store, &["stats"]);
    assert_eq!(stats["paused"][0]["name"], "echo", "{stats}");
    assert!(stats["paused"][0]["since"].is_string(), "{stats}");
    assert_eq!(
        stats["pruning"],
        json!(null),
        "no worker pruned yet: {stats}"
    );
    let text = exit(store, &["stats"], 0).stdout;
    assert!(
        text.contains("paused: echo (since ") && text.contains("pruning: not run yet"),
        "{text}"
    );
    exit(store, &["resume", "echo"], 0);
    assert_eq!(json(store, &["stats"])["paused"], json!([]));
    assert!(exit(store, &["stats"], 0).stdout.contains("paused: none"));

    // retry a dead job, alone and in bulk
    for id in [&id, &by_user, &whole, &low] {
        exit(store, &["cancel", id], 0);
    }
    assert_eq!(
        json(store, &["retry", &id]),
        json!({"id": id, "retried": true, "was": "cancelled"})
    );
    let job = listed_job(store, "echo", &id);
    assert_eq!(
        (&job["status"], &job["attempt"]),
        (&json!("queued"), &json!(0)),
        "{job}"
    );
    let refused = exit(store, &["retry", &id], 1);
    assert!(
        refused
            .stderr
            .contains("is queued; only error and cancelled"),
        "{}",
        refused.stderr
    );
    let bulk = json(store, &["retry", "--status", "cancelled", "--name", "echo"]);
    assert!(bulk["cancelled"].as_u64().is_some_and(|n| n >= 3), "{bulk}");
    assert_eq!(listed_job(store, "echo", &low)["status"], "queued");
    assert_eq!(
        json(store, &["retry", "--status", "error", "--name", "nothing"]),
        json!({"error": 0})
    );
    exit(store, &["retry"], 2);
    exit(store, &["retry", "--status", "queued"], 2);
    exit(store, &["retry", &id, "--status", "error"], 2);
    exit(store, &["retry", "nothex"], 2);
    exit(store, &["retry", "0123456789abcdef01234567"], 3);

    // removal by age, and pruning with a retention given on the command line
    let queued = json(
        store,
        &[
            "jobs", "--name", "echo", "--status", "queued", "--limit", "500",
        ],
    );
    for job in queued.as_array().cloned().unwrap_or_default() {
        exit(
            store,
            &["cancel", job["id"].as_str().unwrap_or_default()],
            0,
        );
    }
    assert_eq!(
        json(
            store,
            &["remove", "--older-than", "1h", "--status", "cancelled"]
        ),
        json!({"cancelled": 0}),
        "the jobs were cancelled just now"
    );
    exit(store, &["remove", "--older-than", "soon"], 2);
    exit(
        store,
        &["remove", "--older-than", "1h", "--status", "queued"],
        2,
    );
    assert_eq!(
        json(store, &["prune"]),
        json!({"cancelled": 0, "completed": 0, "error": 0}),
        "kept for 7 days by default"
    );
    exit(store, &["prune", "--retain-cancelled", "someday"], 2);
    let pruned = json(
        store,
        &[
            "prune",
            "--retain-cancelled",
            "0s",
            "--retain-completed",
            "forever",
        ],
    );
    assert!(
        pruned["cancelled"].as_u64().is_some_and(|n| n >= 6),
        "{pruned}"
    );
    exit(store, &["status", &id], 3);
    exit(store, &["cancel", &held], 3);
    let (old, _) = added(store, &["add", "echo"]);
    exit(store, &["cancel", &old], 0);
    let removed = json(store, &["remove", "--older-than", "0s", "cancelled"]);
    assert!(
        removed["cancelled"].as_u64().is_some_and(|n| n >= 1),
        "{removed}"
    );
    exit(store, &["status", &old], 3);
}

/// `schedule add|list|show|pause|resume|remove`.
fn schedule_flow(store: &str) {
    let every = json(
        store,
        &["schedule", "add", "echo", r#"{"s": 1}"#, "--every", "30s"],
    );
    assert_eq!(every["active"], true);
    assert_eq!(every["schedule"], json!({"kind": "delay", "delay": 30}));
    assert!(every["next_call_time"].is_string());
    assert_eq!(every["lock_duration"], 300_000, "the default lock: {every}");
    assert_eq!(every["locked_until"], json!(null), "{every}");
    assert_eq!(every["misfire"], json!({"policy": "fire_once"}), "{every}");
    let every = every["id"].as_str().expect("item id").to_string();
    let cron = json(
        store,
        &[
            "schedule",
            "add",
            "echo",
            "--cron",
            "*/5 * * * *",
            "--tz",
            "Europe/Zurich",
        ],
    );
    assert_eq!(
        cron["schedule"],
        json!({"kind": "crontab", "expression": "*/5 * * * *", "time_zone": "Europe/Zurich"})
    );
    let lists = json(
        store,
        &[
            "schedule",
            "add",
            "echo",
            "--minute",
            "0,30",
            "--hour",
            "2",
            "--paused",
            "--lock-duration",
            "90s",
        ],
    );
    assert_eq!(lists["active"], false);
    assert_eq!(lists["schedule"]["minute"], json!([0, 30]));
    assert_eq!(lists["lock_duration"], 90_000, "{lists}");
    assert_eq!(lists["locked_until"], json!(null), "{lists}");

    let plain = exit(store, &["schedule", "add", "echo", "--every", "1m"], 0)
        .stdout
        .trim()
        .to_string();

    exit(store, &["schedule", "add", "echo", "--cron", "bad"], 2);
    exit(
        store,
        &[
            "schedule",
            "add",
            "echo",
            "--cron",
            "* * * * *",
            "--tz",
            "Mars/Base",
        ],
        2,
    );
    exit(store, &["schedule", "add", "echo", "--minute", "61"], 2);
    exit(
        store,
        &[
            "schedule",
            "add",
            "echo",
            "--every",
            "30s",
            "--cron",
            "* * * * *",
        ],
        2,
    );
    exit(store, &["schedule", "add", "echo"], 2); // a rule is required
    exit(store, &["schedule", "add", "nope", "--every", "1s"], 2);

    let listed = json(store, &["schedule", "list"]);
    for id in [&every, &plain] {
        assert!(
            listed
                .as_array()
                .is_some_and(|items| items.iter().any(|i| i["id"] == **id)),
            "{listed}"
        );
    }
    let table = exit(store, &["schedule", "list"], 0).stdout;
    assert!(
        table.contains("every 30s") && table.contains("cron '*/5 * * * *' Europe/Zurich"),
        "{table}"
    );
    assert!(
        table.contains("minute=0,30 hour=2") && table.contains("paused"),
        "{table}"
    );

    assert_eq!(
        json(store, &["schedule", "show", &every])["job_name"],
        "echo"
    );
    let shown = exit(
        store,
        &["schedule", "show", lists["id"].as_str().unwrap_or_default()],
        0,
    )
    .stdout;
    assert!(
        shown.contains("minute=0,30 hour=2") && shown.contains("lock time   1m 30s"),
        "{shown}"
    );
    assert_eq!(json(store, &["schedule", "pause", &every])["active"], false);
    let resumed = json(store, &["schedule", "resume", &every]);
    assert_eq!(resumed["active"], true);
    assert!(resumed["next_call_time"].is_string());
    exit(store, &["schedule", "remove", &every], 0);
    exit(store, &["schedule", "show", &every], 3);
    exit(store, &["schedule", "pause", "nothex"], 2);
    for id in [
        cron["id"].as_str(),
        lists["id"].as_str(),
        Some(plain.as_str()),
    ]
    .into_iter()
    .flatten()
    {
        exit(store, &["schedule", "remove", id], 0);
    }
}

/// A worker process runs echo, sleep and exec jobs; `add --wait` reports how they ended.
fn worker_flow(store: &str) {
    let _worker = Background::start(
        store,
        &[
            "worker",
            "--wait-time",
            "100ms",
            "--allow-exec",
            "--concurrency",
            "2",
            "--prefetch",
            "1",
        ],
    );
    let done = json(
        store,
        &[
            "add",
            "echo",
            r#"{"hello": "world"}"#,
            "--wait",
            "--wait-timeout",
            "60s",
        ],
    );
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["output"], json!({"hello": "world"}));
    let id = done["id"].as_str().expect("id").to_string();
    assert_eq!(
        exit(store, &["result", &id], 0).json(),
        json!({"hello": "world"})
    );

    // a job ending in error exits 1
    let slept = exit(
        store,
        &[
            "add",
            "sleep",
            r#"{"seconds": "soon"}"#,
            "--wait",
            "--wait-timeout",
            "60s",
        ],
        1,
    );
    assert!(
        slept.stderr.contains("ended error") && slept.stderr.contains("invalid input"),
        "{}",
        slept.stderr
    );

    let ran = json(
        store,
        &[
            "add",
            "exec",
            r#"{"program": "sh", "args": ["-c", "echo hi; echo oops >&2"]}"#,
            "--wait",
            "--wait-timeout",
            "60s",
        ],
    );
    assert_eq!(
        ran["output"],
        json!({"exit_code": 0, "stdout": "hi\n", "stderr": "oops\n"}),
        "{ran}"
    );

    let failed = exit(
        store,
        &[
            "--json",
            "add",
            "exec",
            r#"{"program": "sh", "args": ["-c", "echo bad >&2; exit 3"]}"#,
            "--max-attempts",
            "2",
            "--retry-delay",
            "100ms",
            "--wait",
            "--wait-timeout",
            "60s",
        ],
        1,
    )
    .json();
    assert_eq!(failed["status"], "error");
    let errors = failed["errors"].as_array().cloned().unwrap_or_default();
    assert_eq!(errors.len(), 2, "one record per attempt: {failed}");
    assert!(errors.iter().all(|e| {
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("exited with code 3") && m.contains("bad"))
    }));
    let failed_id = failed["id"].as_str().unwrap_or_default();
    let text = exit(store, &["errors", failed_id], 0).stdout;
    assert!(
        text.contains("attempt 1") && text.contains("attempt 2"),
        "{text}"
    );
    let ended = json(
        store,
        &[
            "jobs", "--name", "exec", "--status", "error", "--limit", "500",
        ],
    );
    let ended = ended
        .as_array()
        .and_then(|jobs| jobs.iter().find(|j| j["id"] == failed_id).cloned());
    assert_eq!(
        ended.map(|j| (j["attempt"].clone(), j["max_attempts"].clone())),
        Some((json!(2), json!(2))),
        "attempts started and allowed of the failed exec job"
    );
    let table = exit(store, &["jobs", "--name", "exec", "--status", "error"], 0).stdout;
    assert!(
        table
            .lines()
            .any(|l| l.starts_with(failed_id) && l.contains(" 2/2 ")),
        "{table}"
    );

    // an attempt that runs past its timeout fails as timed out (R28)
    let timed_out = exit(
        store,
        &[
            "--json",
            "add",
            "sleep",
            r#"{"seconds": 30}"#,
            "--timeout",
            "300ms",
            "--max-attempts",
            "1",
            "--wait",
            "--wait-timeout",
            "60s",
        ],
        1,
    )
    .json();
    assert_eq!(timed_out["status"], "error", "{timed_out}");
    assert!(
        timed_out["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("timed out")),
        "{timed_out}"
    );
    // a dead job retried runs again
    let retried = json(store, &["retry", "--status", "error", "--name", "exec"]);
    assert!(
        retried["error"].as_u64().is_some_and(|n| n >= 1),
        "{retried}"
    );
    eventually(
        Duration::from_secs(60),
        "the retried exec job failed again",
        || {
            let job = json(
                store,
                &[
                    "jobs", "--name", "exec", "--status", "error", "--limit", "500",
                ],
            );
            job.as_array().and_then(|jobs| {
                jobs.iter()
                    .find(|j| j["id"] == failed_id && j["attempt"] == 2)
                    .cloned()
            })
        },
    );
    let errors = json(store, &["errors", failed_id]);
    assert_eq!(
        errors.as_array().map(Vec::len),
        Some(4),
        "records kept across the retry: {errors}"
    );
}

/// A worker started with a short retention prunes completed jobs, and `stats` says when and
/// what (R33).
fn pruning_flow(store: &str) {
    exit(store, &["migrate"], 0); // not raced by the worker's own migration
    let _worker = Background::start(
        store,
        &[
            "worker",
            "--wait-time",
            "100ms",
            "--retain-completed",
            "0s",
            "--retain-error",
            "forever",
            "--prune-interval",
            "200ms",
        ],
    );
    // kept 0s: the job may be gone before `add --wait` could see it completed
    let (id, _) = added(store, &["add", "echo", r#"{"prune": "me"}"#]);
    let stats = eventually(
        Duration::from_secs(60),
        "a pruning that removed the job",
        || {
            let stats = json(store, &["stats"]);
            (run(store, &["status", &id]).code == Some(3)
                && stats["pruning"]["removed"]["completed"].as_u64().is_some())
            .then_some(stats)
        },
    );
    assert!(
        stats["pruning"]["last_run"].is_string() && stats["pruning"]["took_ms"].is_u64(),
        "{stats}"
    );
    let text = exit(store, &["stats"], 0).stdout;
    assert!(
        text.contains("pruning: last run ") && text.contains(" completed"),
        "{text}"
    );
}

#[test]
fn help_documents_exit_codes_and_usage_errors_exit_2() {
    let help = exit("memory:", &["--help"], 0).stdout;
    assert!(
        help.contains("Exit codes") && help.contains("3  job or scheduler item not found"),
        "{help}"
    );
    exit("memory:", &["frobnicate"], 2);
    exit("memory:", &["add"], 2);
    let unknown = exit("cassandra://localhost", &["stats"], 2);
    for scheme in [
        "sqlite", "postgres", "mysql", "mariadb", "mongodb", "redis", "rediss",
    ] {
        assert!(
            unknown.stderr.contains(&format!("{scheme}://")),
            "{}",
            unknown.stderr
        );
    }
    exit("memory:", &["add", "echo", "--wait"], 2);
    exit("memory:?prefix=x", &["stats"], 2);
    exit("redis://127.0.0.1:1/?prefix=a&prefix=b", &["stats"], 2);
    let schema = exit("mysql://u:secret@127.0.0.1:1/db?schema=s", &["stats"], 2);
    assert!(
        schema
            .stderr
            .contains("schema= applies to postgres:// URLs only")
            && schema.stderr.contains("u:***@")
            && !schema.stderr.contains("secret"),
        "{}",
        schema.stderr
    );
}

#[test]
fn worker_flags_are_checked_before_any_job_is_claimed() {
    let simple = exit(
        "memory:",
        &["worker", "--kind", "simple", "--concurrency", "2"],
        2,
    );
    assert!(simple.stderr.contains("--kind multi"), "{}", simple.stderr);
    exit("memory:", &["worker", "--concurrency", "0"], 2);
    exit("memory:", &["worker", "--prefetch", "-1"], 2);
    exit("memory:", &["worker", "--max-threads", "2"], 2); // renamed to --concurrency
    exit("memory:", &["serve", "--max-threads", "2"], 2);
    let help = exit("memory:", &["worker", "--help"], 0).stdout;
    assert!(
        help.contains("--concurrency") && help.contains("--prefetch"),
        "{help}"
    );
}

#[test]
fn operator_commands_on_sqlite() {
    let (_dir, store) = sqlite_store();
    operator_flow(&store, "sqlite");
}

#[test]
fn sqlite_tables_take_the_url_prefix() {
    let (_dir, store) = sqlite_store();
    let a = format!("{store}?prefix=a_");
    let b = format!("{store}?prefix=b_");
    json(&a, &["add", "echo"]);
    assert_eq!(json(&a, &["stats"])["queued"], 1);
    assert_eq!(
        json(&b, &["stats"])["queued"],
        0,
        "b_ is a queue of its own"
    );
    assert_eq!(json(&store, &["stats"])["total"], 0);
    exit(&format!("{store}?prefix=no-dashes"), &["stats"], 2);
}

#[test]
fn sqlite_file_is_created_and_migrated() {
    let (dir, store) = sqlite_store();
    let migrated = exit(&store, &["migrate"], 0).stdout;
    assert!(migrated.contains("up to date"), "{migrated}");
    assert!(dir.path().join("remote.db").exists());
    exit("memory:", &["migrate"], 0);
}

#[test]
fn workers_run_jobs_on_sqlite() {
    let (_dir, store) = sqlite_store();
    worker_flow(&store);
}

#[test]
fn workers_prune_on_sqlite() {
    let (_dir, store) = sqlite_store();
    pruning_flow(&store);
}

#[test]
fn json_logs_carry_fields_and_a_line_per_attempt() {
    let (_dir, store) = sqlite_store();
    exit(&store, &["migrate"], 0); // not raced by the worker's own migration
    let worker = Background::start_with_log(
        &store,
        &["--log-format", "json", "worker", "--wait-time", "100ms"],
        "info,remote_cli=debug",
    );
    let (id, _) = added(&store, &["add", "echo", r#"{"logged": true}"#]);
    let line = eventually(Duration::from_secs(30), "the attempt's log line", || {
        worker.stderr().lines().find_map(|line| {
            let event: serde_json::Value = serde_json::from_str(line).ok()?;
            (event["fields"]["message"] == "attempt ended" && event["fields"]["job_id"] == id)
                .then_some(event)
        })
    });
    assert_eq!(line["level"], "DEBUG", "{line}");
    assert_eq!(
        (
            &line["fields"]["job_name"],
            &line["fields"]["attempt"],
            &line["fields"]["outcome"]
        ),
        (&json!("echo"), &json!(1), &json!("Completed")),
        "{line}"
    );
    for other in worker.stderr().lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            serde_json::from_str::<serde_json::Value>(other).is_ok(),
            "every line is JSON: {other}"
        );
    }
    exit("memory:", &["--log-format", "yaml", "stats"], 2);
    let no_otel = run(
        "memory:",
        &["--otlp-endpoint", "http://127.0.0.1:4318", "stats"],
    );
    if cfg!(feature = "otel") {
        no_otel.expect(0);
    } else {
        assert!(no_otel.expect(2).stderr.contains("`otel` feature"));
    }
}

#[test]
fn retention_flags_are_checked() {
    exit("memory:", &["worker", "--retain-completed", "later"], 2);
    exit("memory:", &["serve", "--prune-interval", "often"], 2);
    let help = exit("memory:", &["serve", "--help"], 0).stdout;
    assert!(
        help.contains("--retain-completed")
            && help.contains("--prune-interval")
            && help.contains("forever"),
        "{help}"
    );
    assert_eq!(
        json("memory:", &["prune", "--retain-completed", "forever"]),
        json!({"cancelled": 0, "completed": 0, "error": 0})
    );
}

#[test]
fn exec_jobs_stay_queued_without_allow_exec() {
    let (_dir, store) = sqlite_store();
    let _worker = Background::start(
        &store,
        &["worker", "--kind", "simple", "--wait-time", "100ms"],
    );
    let exec = json(&store, &["add", "exec", r#"{"program": "true"}"#])["id"].clone();
    let echo = json(&store, &["add", "echo", "--wait", "--wait-timeout", "60s"]);
    assert_eq!(echo["status"], "completed");
    let exec = exec.as_str().unwrap_or_default().to_string();
    assert_eq!(exit(&store, &["status", &exec], 0).stdout.trim(), "queued");
}

#[test]
fn scheduler_process_adds_due_jobs() {
    let (_dir, store) = sqlite_store();
    let _scheduler = Background::start(&store, &["scheduler", "--wait-time", "100ms"]);
    json(
        &store,
        &[
            "schedule",
            "add",
            "echo",
            r#"{"tick": true}"#,
            "--every",
            "1s",
        ],
    );
    eventually(
        Duration::from_secs(30),
        "a job added by the scheduler",
        || {
            let jobs = json(&store, &["jobs", "--name", "echo"]);
            jobs.as_array().and_then(|jobs| {
                jobs.iter()
                    .find(|j| j["input"] == json!({"tick": true}))
                    .cloned()
            })
        },
    );
}

/// `schedule add --misfire once|skip|each:N` stores the policy (R34); `list` and `show` print
/// it; a policy that is not one of these, or `each:0`, is a usage error (exit 2).
#[test]
fn schedule_add_takes_a_misfire_policy() {
    let (_dir, store) = sqlite_store();
    let add = |misfire: &str| {
        json(
            &store,
            &[
                "schedule",
                "add",
                "echo",
                "--every",
                "1m",
                "--misfire",
                misfire,
            ],
        )
    };
    let each = add("each:3");
    assert_eq!(
        each["misfire"],
        json!({"policy": "fire_each", "max": 3}),
        "{each}"
    );
    assert_eq!(add("skip")["misfire"], json!({"policy": "skip"}));
    assert_eq!(add("once")["misfire"], json!({"policy": "fire_once"}));
    let each = each["id"].as_str().expect("item id").to_string();
    assert_eq!(
        json(&store, &["schedule", "show", &each])["misfire"],
        json!({"policy": "fire_each", "max": 3})
    );
    let shown = exit(&store, &["schedule", "show", &each], 0).stdout;
    assert!(shown.contains("misfire     each:3"), "{shown}");
    let table = exit(&store, &["schedule", "list"], 0).stdout;
    assert!(
        table.starts_with("ID") && table.contains("MISFIRE"),
        "{table}"
    );
    for policy in ["each:3", "skip", "once"] {
        assert!(
            table.contains(&format!("  {policy}  ")),
            "{policy}: {table}"
        );
    }
    for bad in ["each:0", "each:", "each:-2", "sometimes", ""] {
        let refused = exit(
            &store,
            &["schedule", "add", "echo", "--every", "1m", "--misfire", bad],
            2,
        );
        assert!(
            refused.stderr.contains("misfire"),
            "{bad}: {}",
            refused.stderr
        );
    }
    assert_eq!(
        json(&store, &["schedule", "list"]).as_array().map(Vec::len),
        Some(3),
        "nothing added by a refused policy"
    );
}

#[test]
fn cron_next_previews_occurrences() {
    let times = json(
        "memory:",
        &[
            "cron",
            "next",
            "0 12 * * *",
            "--tz",
            "Europe/Zurich",
            "-n",
            "3",
            "--after",
            "2030-03-30T00:00:00Z",
        ],
    );
    assert_eq!(
        times,
        json!([
            "2030-03-30T12:00:00+01:00",
            "2030-03-31T12:00:00+02:00",
            "2030-04-01T12:00:00+02:00"
        ])
    );
    let next = exit("memory:", &["cron", "next", "*/15 9-17 * * mon-fri"], 0).stdout;
    assert_eq!(next.lines().count(), 5, "{next}");
    exit("memory:", &["cron", "next", "61 * * * *"], 2);
    exit(
        "memory:",
        &["cron", "next", "* * * * *", "--tz", "Nowhere/City"],
        2,
    );
    exit("memory:", &["cron", "next", "* * * * *", "-n", "0"], 2);
}

#[test]
fn unreachable_store_exits_4() {
    exit(
        "postgres://postgres@127.0.0.1:1/none",
        &["--connect-timeout", "2s", "stats"],
        4,
    );
}

#[test]
fn serve_runs_jobs_serves_the_api_and_metrics_and_stops_on_sigterm() {
    let (_dir, store) = sqlite_store();
    let mut serve = Background::start(
        &store,
        &[
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--wait-time",
            "100ms",
            "--scheduler-wait-time",
            "100ms",
        ],
    );
    let addr = serve.dashboard_addr();
    assert_eq!(http(addr, "GET", "/api/health", &[]).0, 200);
    let id = json(&store, &["add", "echo", r#"{"via": "cli"}"#])["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    eventually(Duration::from_secs(30), "the job completed", || {
        let (_, body) = http(addr, "GET", &format!("/api/jobs/{id}"), &[]);
        body.contains("\"completed\"").then_some(())
    });
    let (status, metrics) = http(addr, "GET", "/metrics", &[]);
    assert_eq!(status, 200);
    for line in [
        "remote_jobs_completed_total{job_name=\"echo\"} 1",
        "remote_job_run_seconds_count{job_name=\"echo\"} 1",
        "remote_job_queue_latency_seconds_count{job_name=\"echo\"} 1",
        "remote_jobs{status=\"completed\"} 1",
        "remote_worker_up{worker=\"scheduler\"} 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "missing {line} in\n{metrics}"
        );
    }
    let pid = serve_pid(&serve);
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    assert!(killed.is_ok_and(|s| s.success()));
    serve.expect_exit(Duration::from_secs(30), 0);
    assert!(
        serve.stderr().contains("Processor 'root-worker' stopped"),
        "{}",
        serve.stderr()
    );
}

fn serve_pid(process: &Background) -> String {
    process.pid().to_string()
}

#[test]
fn serving_off_loopback_requires_a_token() {
    let refused = exit("memory:", &["serve", "--bind", "0.0.0.0:0"], 2);
    assert!(refused.stderr.contains("--token"), "{}", refused.stderr);

    let mut serve = Background::start(
        "memory:",
        &["serve", "--bind", "0.0.0.0:0", "--token", "s3cret"],
    );
    let port = serve.dashboard_addr().port();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    assert_eq!(http(addr, "GET", "/", &[]).0, 401);
    assert_eq!(http(addr, "GET", "/api/stats", &[]).0, 401);
    assert_eq!(
        http(
            addr,
            "GET",
            "/metrics",
            &[("Authorization", "Bearer wrong")]
        )
        .0,
        401
    );
    assert_eq!(
        http(
            addr,
            "GET",
            "/api/stats",
            &[("Authorization", "Bearer s3cret")]
        )
        .0,
        200
    );
    let (status, response) = http(addr, "GET", "/?token=s3cret", &[]);
    assert_eq!(status, 200);
    assert!(
        response
            .to_ascii_lowercase()
            .contains("set-cookie: remote_token=s3cret"),
        "{response}"
    );
    assert_eq!(
        http(addr, "GET", "/jobs", &[("Cookie", "remote_token=s3cret")]).0,
        200
    );
}

#[test]
fn demo_fills_the_store_and_serves_it() {
    let (_dir, store) = sqlite_store();
    let mut demo = Background::start(
        &store,
        &["demo", "--bind", "127.0.0.1:0", "--wait-time", "100ms"],
    );
    let addr = demo.dashboard_addr();
    assert_eq!(http(addr, "GET", "/", &[]).0, 200);
    eventually(
        Duration::from_secs(60),
        "completed, error and cancelled demo jobs",
        || {
            let stats = json(&store, &["stats"]);
            let n = |s: &str| stats[s].as_u64().unwrap_or(0);
            (n("completed") >= 2 && n("error") >= 1 && n("cancelled") == 1).then_some(())
        },
    );
    let items = json(&store, &["schedule", "list"]);
    assert_eq!(items.as_array().map(Vec::len), Some(4), "{items}");
}

#[test]
fn operator_commands_and_workers_on_postgres() {
    let store = ServerStore::postgres();
    store.migrate();
    operator_flow(&store.url, "postgres");
    worker_flow(&store.url);
    pruning_flow(&store.url);
}

#[test]
fn operator_commands_and_workers_on_mariadb() {
    let store = ServerStore::mysql();
    store.migrate();
    operator_flow(&store.url, "mysql");
    worker_flow(&store.url);
    pruning_flow(&store.url);
    // mariadb:// names the same server and dialect: the same place, the same jobs.
    let mariadb = store.url.replacen("mysql://", "mariadb://", 1);
    let counts = |url: &str| {
        let mut stats = json(url, &["stats"]);
        let store = stats.as_object_mut().and_then(|s| s.remove("store"));
        (stats, store.unwrap_or_default())
    };
    let (by_mysql, _) = counts(&store.url);
    let (by_mariadb, described) = counts(&mariadb);
    assert_eq!(by_mariadb, by_mysql);
    assert!(
        by_mysql["total"].as_u64().is_some_and(|n| n > 0),
        "{by_mysql}"
    );
    assert_eq!(described["kind"], "mysql");
    assert!(
        described["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("mariadb://")),
        "{described}"
    );
}

#[test]
fn operator_commands_and_workers_on_mongodb() {
    let store = ServerStore::mongodb();
    store.migrate();
    operator_flow(&store.url, "mongodb");
    worker_flow(&store.url);
    pruning_flow(&store.url);
}

#[test]
fn operator_commands_and_workers_on_redis() {
    let store = ServerStore::redis();
    store.migrate();
    operator_flow(&store.url, "redis");
    worker_flow(&store.url);
    pruning_flow(&store.url);
}

#[test]
fn redis_key_prefixes_are_separate_queues() {
    let a = ServerStore::redis();
    let b = ServerStore::redis();
    a.migrate();
    b.migrate();
    json(&a.url, &["add", "echo"]);
    assert_eq!(json(&a.url, &["stats"])["queued"], 1);
    assert_eq!(json(&b.url, &["stats"])["total"], 0);
    let braces = format!("{}?prefix=a{{b}}", a.server.trim_end_matches('/'));
    exit(&braces, &["stats"], 2);
}

/// The first byte a `remote stats` on `scheme://ADDR/` sends to a server listening at ADDR,
/// and how the command ended (the listener hangs up after that byte).
fn first_byte_sent(scheme: &str) -> (u8, Ran) {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a local port");
    let addr = listener.local_addr().expect("local address");
    let accepting = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("the command connects");
        let mut byte = [0u8; 1];
        stream
            .read_exact(&mut byte)
            .expect("the command sends a byte");
        byte[0]
    });
    let ran = run(
        &format!("{scheme}://{addr}/"),
        &["--connect-timeout", "3s", "stats"],
    );
    (accepting.join().expect("listener thread"), ran)
}

#[test]
fn rediss_urls_connect_over_tls() {
    // A TLS connection opens with a handshake record (content type 22); plain Redis with a
    // RESP array (`*`).
    let (tls, ran) = first_byte_sent("rediss");
    assert_eq!(
        tls,
        0x16,
        "{}",
        ran.report("rediss:// did not start a TLS handshake")
    );
    ran.expect(4);
    let (plain, ran) = first_byte_sent("redis");
    assert_eq!(
        plain,
        b'*',
        "{}",
        ran.report("redis:// did not send a command")
    );
    ran.expect(4);
}
