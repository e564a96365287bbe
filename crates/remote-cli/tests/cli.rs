//! The `remote` command end to end: operator commands, workers, scheduler and serve as real
//! processes on a temporary SQLite file, and the same commands on PostgreSQL and MongoDB.

mod common;

use std::time::Duration;

use common::{eventually, http, json, remote, run, sqlite_store, Background};
use serde_json::{json, Value};

/// Every operator command on a store, with no worker running.
fn operator_flow(store: &str) {
    let id = json(store, &["add", "echo", r#"{"n": 1}"#])["id"]
        .as_str()
        .expect("add prints the id")
        .to_string();
    assert_eq!(run(store, &["status", &id]).1.trim(), "queued");
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
    let table = run(store, &["jobs", "--name", "echo", "--limit", "500"]).1;
    assert!(table.starts_with("ID") && table.contains(&id), "{table}");
    assert_eq!(run(store, &["jobs", "--status", "bogus"]).0, 2);
    assert_eq!(run(store, &["jobs", "--page", "0"]).0, 2);
    let stats = json(store, &["stats"]);
    assert!(
        stats["queued"].as_u64().is_some_and(|n| n >= 1) && stats["total"].is_u64(),
        "{stats}"
    );
    assert!(run(store, &["stats"]).1.contains("queued"));

    let (code, _, stderr) = run(store, &["result", &id]);
    assert_eq!(code, 1, "no result yet: {stderr}");
    assert_eq!(json(store, &["errors", &id]), json!([]));

    assert_eq!(
        json(store, &["cancel", &id]),
        json!({"id": id, "cancelled": true, "was": "queued"})
    );
    let (code, _, stderr) = run(store, &["cancel", &id]);
    assert_eq!(code, 1, "cancelling a cancelled job: {stderr}");
    assert!(stderr.contains("already cancelled"), "{stderr}");
    assert_eq!(run(store, &["status", &id]).1.trim(), "cancelled");
    let removed = json(store, &["remove", "cancelled"]);
    assert!(
        removed["cancelled"].as_u64().is_some_and(|n| n >= 1),
        "{removed}"
    );
    assert_eq!(
        run(store, &["status", &id]).0,
        3,
        "removed jobs are not found"
    );
    let (code, _, stderr) = run(store, &["remove", "queued"]);
    assert_eq!(code, 2, "live jobs are not removed: {stderr}");
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
        job.map(|j| j["retry_time"].clone()),
        Some(json!("2030-01-01T00:00:00Z"))
    );
    assert_eq!(run(store, &["add", "echo", "--at", "tomorrow"]).0, 2);

    let (code, _, stderr) = run(store, &["add", "nope"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("unknown job 'nope'"), "{stderr}");
    let forced = json(
        store,
        &["add", "nope", "[1, 2]", "--force", "--max-retries", "5"],
    )["id"]
        .clone();
    let jobs = json(store, &["jobs", "--name", "nope", "--limit", "500"]);
    assert!(jobs
        .as_array()
        .is_some_and(|j| j.iter().any(|j| j["id"] == forced && j["max_retries"] == 5)));
    assert_eq!(run(store, &["add", "echo", "{bad"]).0, 2);
    assert_eq!(run(store, &["status", "zzz"]).0, 2);
    assert_eq!(run(store, &["status", "0123456789abcdef01234567"]).0, 3);
    assert_eq!(run(store, &["cancel", "0123456789abcdef01234567"]).0, 3);
    for id in [&later, &forced] {
        assert_eq!(
            run(store, &["cancel", id.as_str().unwrap_or_default()]).0,
            0
        );
    }
    assert_eq!(run(store, &["remove", "cancelled"]).0, 0);

    schedule_flow(store);
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
            "schedule", "add", "echo", "--minute", "0,30", "--hour", "2", "--paused",
        ],
    );
    assert_eq!(lists["active"], false);
    assert_eq!(lists["schedule"]["minute"], json!([0, 30]));
    let (code, out, _) = run(store, &["schedule", "add", "echo", "--every", "1m"]);
    assert_eq!(code, 0);
    let plain = out.trim().to_string();

    assert_eq!(
        run(store, &["schedule", "add", "echo", "--cron", "bad"]).0,
        2
    );
    assert_eq!(
        run(
            store,
            &[
                "schedule",
                "add",
                "echo",
                "--cron",
                "* * * * *",
                "--tz",
                "Mars/Base"
            ]
        )
        .0,
        2
    );
    assert_eq!(
        run(store, &["schedule", "add", "echo", "--minute", "61"]).0,
        2
    );
    assert_eq!(
        run(
            store,
            &[
                "schedule",
                "add",
                "echo",
                "--every",
                "30s",
                "--cron",
                "* * * * *"
            ]
        )
        .0,
        2
    );
    assert_eq!(
        run(store, &["schedule", "add", "echo"]).0,
        2,
        "a rule is required"
    );
    assert_eq!(
        run(store, &["schedule", "add", "nope", "--every", "1s"]).0,
        2
    );

    let listed = json(store, &["schedule", "list"]);
    for id in [&every, &plain] {
        assert!(
            listed
                .as_array()
                .is_some_and(|items| items.iter().any(|i| i["id"] == **id)),
            "{listed}"
        );
    }
    let table = run(store, &["schedule", "list"]).1;
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
    assert!(run(store, &["schedule", "show", &every])
        .1
        .contains("every 30s"));
    assert_eq!(json(store, &["schedule", "pause", &every])["active"], false);
    let resumed = json(store, &["schedule", "resume", &every]);
    assert_eq!(resumed["active"], true);
    assert!(resumed["next_call_time"].is_string());
    assert_eq!(run(store, &["schedule", "remove", &every]).0, 0);
    assert_eq!(run(store, &["schedule", "show", &every]).0, 3);
    assert_eq!(run(store, &["schedule", "pause", "nothex"]).0, 2);
    for id in [
        cron["id"].as_str(),
        lists["id"].as_str(),
        Some(plain.as_str()),
    ]
    .into_iter()
    .flatten()
    {
        assert_eq!(run(store, &["schedule", "remove", id]).0, 0);
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
            "--max-threads",
            "2",
        ],
    );
    let done = json(
        store,
        &[
            "add",
            "echo",
            r#"{"hello": "world"}"#,
            "--wait",
            "--timeout",
            "60s",
        ],
    );
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["output"], json!({"hello": "world"}));
    let id = done["id"].as_str().expect("id").to_string();
    let (code, out, _) = run(store, &["result", &id]);
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<Value>(&out).ok(),
        Some(json!({"hello": "world"}))
    );

    let out = remote(store)
        .args([
            "add",
            "sleep",
            r#"{"seconds": "soon"}"#,
            "--wait",
            "--timeout",
            "60s",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "a job ending in error exits 1");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ended error") && stderr.contains("invalid input"),
        "{stderr}"
    );

    let ran = json(
        store,
        &[
            "add",
            "exec",
            r#"{"program": "sh", "args": ["-c", "echo hi; echo oops >&2"]}"#,
            "--wait",
            "--timeout",
            "60s",
        ],
    );
    assert_eq!(
        ran["output"],
        json!({"exit_code": 0, "stdout": "hi\n", "stderr": "oops\n"}),
        "{ran}"
    );

    let out = remote(store)
        .args([
            "--json",
            "add",
            "exec",
            r#"{"program": "sh", "args": ["-c", "echo bad >&2; exit 3"]}"#,
        ])
        .args([
            "--max-retries",
            "2",
            "--retry-delay",
            "100ms",
            "--wait",
            "--timeout",
            "60s",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let failed: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(failed["status"], "error");
    let errors = failed["errors"].as_array().cloned().unwrap_or_default();
    assert_eq!(errors.len(), 2, "one record per attempt: {failed}");
    assert!(errors.iter().all(|e| {
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("exited with code 3") && m.contains("bad"))
    }));
    let text = run(
        store,
        &["errors", failed["id"].as_str().unwrap_or_default()],
    )
    .1;
    assert!(
        text.contains("attempt 1") && text.contains("attempt 2"),
        "{text}"
    );
}

#[test]
fn help_documents_exit_codes_and_usage_errors_exit_2() {
    let (code, out, _) = run("memory:", &["--help"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("Exit codes") && out.contains("3  job or scheduler item not found"),
        "{out}"
    );
    assert_eq!(run("memory:", &["frobnicate"]).0, 2);
    assert_eq!(run("memory:", &["add"]).0, 2);
    assert_eq!(run("redis://localhost", &["stats"]).0, 2);
    assert_eq!(run("memory:", &["add", "echo", "--wait"]).0, 2);
}

#[test]
fn operator_commands_on_sqlite() {
    let (_dir, store) = sqlite_store();
    operator_flow(&store);
}

#[test]
fn sqlite_file_is_created_and_migrated() {
    let (dir, store) = sqlite_store();
    let (code, out, err) = run(&store, &["migrate"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("up to date"), "{out}");
    assert!(dir.path().join("remote.db").exists());
    assert_eq!(run("memory:", &["migrate"]).0, 0);
}

#[test]
fn workers_run_jobs_on_sqlite() {
    let (_dir, store) = sqlite_store();
    worker_flow(&store);
}

#[test]
fn exec_jobs_stay_queued_without_allow_exec() {
    let (_dir, store) = sqlite_store();
    let _worker = Background::start(&store, &["worker", "--wait-time", "100ms"]);
    let exec = json(&store, &["add", "exec", r#"{"program": "true"}"#])["id"].clone();
    let echo = json(&store, &["add", "echo", "--wait", "--timeout", "60s"]);
    assert_eq!(echo["status"], "completed");
    let exec = exec.as_str().unwrap_or_default().to_string();
    assert_eq!(run(&store, &["status", &exec]).1.trim(), "queued");
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
    let (code, out, _) = run("memory:", &["cron", "next", "*/15 9-17 * * mon-fri"]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 5, "{out}");
    assert_eq!(run("memory:", &["cron", "next", "61 * * * *"]).0, 2);
    assert_eq!(
        run(
            "memory:",
            &["cron", "next", "* * * * *", "--tz", "Nowhere/City"]
        )
        .0,
        2
    );
    assert_eq!(
        run("memory:", &["cron", "next", "* * * * *", "-n", "0"]).0,
        2
    );
}

#[test]
fn unreachable_store_exits_4() {
    let (code, _, stderr) = run(
        "postgres://postgres@127.0.0.1:1/none",
        &["--connect-timeout", "2s", "stats"],
    );
    assert_eq!(code, 4, "{stderr}");
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
    assert_eq!(
        serve.wait_exit(Duration::from_secs(30)),
        Some(0),
        "{}",
        serve.stderr()
    );
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
    let (code, _, stderr) = run("memory:", &["serve", "--bind", "0.0.0.0:0"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--token"), "{stderr}");

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

/// The PostgreSQL server of `scripts/test.sh`; these tests fail when it is not configured.
fn postgres_url() -> String {
    std::env::var("REMOTE_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!("REMOTE_TEST_POSTGRES_URL is not set: run scripts/test.sh, or export it (e.g. postgres://postgres@127.0.0.1:5432/test)")
    })
}

#[test]
fn operator_commands_and_workers_on_postgres() {
    let store = postgres_url();
    assert_eq!(run(&store, &["migrate"]).0, 0);
    operator_flow(&store);
    worker_flow(&store);
}

/// The MongoDB server of `scripts/test.sh`, with a database of its own for these tests.
fn mongo_url() -> String {
    let url = std::env::var("REMOTE_TEST_MONGODB_URL").unwrap_or_else(|_| {
        panic!("REMOTE_TEST_MONGODB_URL is not set: run scripts/test.sh, or export it (scripts/mongo-test-server.sh start prints it)")
    });
    let (scheme, rest) = url.split_once("://").unwrap_or(("mongodb", url.as_str()));
    let (host, query) = match rest.split_once('/') {
        Some((host, path)) => (
            host,
            path.split_once('?').map(|(_, q)| q).unwrap_or_default(),
        ),
        None => (rest, ""),
    };
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    format!("{scheme}://{host}/remote_cli_test{query}")
}

#[test]
fn operator_commands_and_workers_on_mongodb() {
    let store = mongo_url();
    assert_eq!(run(&store, &["migrate"]).0, 0);
    operator_flow(&store);
    worker_flow(&store);
}
