//! OpenTelemetry end to end: `remote serve --otlp-endpoint` exports the span of an attempt and
//! the attempt metrics to a tiny OTLP/HTTP receiver started here (JSON encoding), which checks
//! a span named after the attempt carrying the job's id, and that an attempt's span links to
//! the span that added its job in another process (R35).
#![cfg(feature = "otel")]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use common::{eventually, exit, http_json, http_json_with, sqlite_store, Background};
use serde_json::{json, Value};

/// One request the receiver took: its path and JSON body.
struct Export {
    path: String,
    body: Value,
}

/// Accepts OTLP/HTTP exports on a local port and answers each with `{}`; every request body
/// goes to the returned channel.
fn receiver() -> (String, mpsc::Receiver<Export>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local port");
    let addr = listener.local_addr().expect("address");
    let (sender, exports) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let mut reader = BufReader::new(stream.try_clone().expect("clone the stream"));
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let path = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_string();
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
            );
            let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
            if sender.send(Export { path, body }).is_err() {
                return;
            }
        }
    });
    (format!("http://{addr}"), exports)
}

/// Every span of an OTLP JSON trace export.
fn spans(body: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for resource in body["resourceSpans"].as_array().into_iter().flatten() {
        for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
            out.extend(scope["spans"].as_array().into_iter().flatten().cloned());
        }
    }
    out
}

/// A span's attribute as text (string or integer values).
fn attribute(span: &Value, key: &str) -> Option<String> {
    span["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)
        .and_then(|a| {
            let v = &a["value"];
            v["stringValue"]
                .as_str()
                .map(String::from)
                .or_else(|| v["intValue"].as_str().map(String::from))
                .or_else(|| v["intValue"].as_i64().map(|n| n.to_string()))
        })
}

/// Waits until every job of `ids` completed, then stops `serve` gracefully, which flushes what
/// the exporters hold.
fn complete_then_stop(serve: &mut Background, addr: std::net::SocketAddr, ids: &[&str]) {
    for id in ids {
        eventually(Duration::from_secs(30), "the job completed", || {
            let (_, job) = http_json(addr, "GET", &format!("/api/jobs/{id}"), &Value::Null);
            (job["job"]["status"] == "completed").then_some(())
        });
    }
    let stopped = std::process::Command::new("kill")
        .args(["-TERM", &serve.pid().to_string()])
        .status();
    assert!(stopped.is_ok_and(|s| s.success()));
    serve.expect_exit(Duration::from_secs(30), 0);
}

#[test]
fn an_attempt_span_and_the_metrics_reach_an_otlp_receiver() {
    let (endpoint, exports) = receiver();
    let mut serve = Background::start(
        "memory:",
        &[
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--wait-time",
            "100ms",
            "--no-scheduler",
            "--otlp-endpoint",
            &endpoint,
            "--otlp-protocol",
            "http/json",
        ],
    );
    let addr = serve.dashboard_addr();
    let (status, added) = http_json(
        addr,
        "POST",
        "/api/jobs",
        &json!({"job_name": "echo", "input": {"traced": true}}),
    );
    assert_eq!(status, 201, "{added}");
    let id = added["id"].as_str().expect("id").to_string();
    complete_then_stop(&mut serve, addr, &[&id]);

    let mut attempt = None;
    let mut metric_names = Vec::new();
    while let Ok(export) = exports.recv_timeout(Duration::from_secs(5)) {
        match export.path.as_str() {
            "/v1/traces" => {
                attempt = attempt.or_else(|| {
                    spans(&export.body).into_iter().find(|s| {
                        s["name"] == "attempt" && attribute(s, "job_id").as_deref() == Some(&id)
                    })
                })
            }
            "/v1/metrics" => {
                let text = export.body.to_string();
                for name in [
                    "remote_jobs_completed",
                    "remote_job_run_seconds",
                    "remote_jobs",
                ] {
                    if text.contains(&format!("\"name\":\"{name}\"")) {
                        metric_names.push(name);
                    }
                }
            }
            other => panic!("unexpected export to {other}"),
        }
        if attempt.is_some() && metric_names.len() >= 2 {
            break;
        }
    }
    let attempt = attempt.unwrap_or_else(|| {
        panic!(
            "no span named attempt with job_id {id} reached the receiver; stderr:\n{}",
            serve.stderr()
        )
    });
    assert_eq!(
        attribute(&attempt, "job_name").as_deref(),
        Some("echo"),
        "{attempt}"
    );
    assert_eq!(
        attribute(&attempt, "attempt").as_deref(),
        Some("1"),
        "{attempt}"
    );
    assert!(
        metric_names.contains(&"remote_jobs_completed")
            && metric_names.contains(&"remote_job_run_seconds"),
        "metrics exported: {metric_names:?}"
    );
}

/// The `(traceId, spanId)` a span's first link points to.
fn first_link(span: &Value) -> Option<(String, String)> {
    let link = span["links"].as_array()?.first()?;
    Some((
        link["traceId"].as_str()?.to_lowercase(),
        link["spanId"].as_str()?.to_lowercase(),
    ))
}

#[test]
fn an_attempt_span_links_to_the_span_that_added_its_job() {
    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const CALLER: &str = "00f067aa0ba902b7";
    let (endpoint, exports) = receiver();
    let (_dir, store) = sqlite_store();
    let otlp = ["--otlp-endpoint", &endpoint, "--otlp-protocol", "http/json"];
    let mut add = vec!["--json", "add", "echo", r#"{"from": "remote add"}"#];
    add.extend(otlp);
    let added = exit(&store, &add, 0).json();
    let by_add = added["id"].as_str().expect("id").to_string();

    let mut args = vec![
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--wait-time",
        "100ms",
        "--no-scheduler",
    ];
    args.extend(otlp);
    let mut serve = Background::start(&store, &args);
    let addr = serve.dashboard_addr();
    let traceparent = format!("00-{TRACE}-{CALLER}-01");
    let (status, posted) = http_json_with(
        addr,
        "POST",
        "/api/jobs",
        &[("traceparent", &traceparent)],
        &json!({"job_name": "echo", "input": {"from": "the API"}}),
    );
    assert_eq!(status, 201, "{posted}");
    let by_api = posted["id"].as_str().expect("id").to_string();
    let (status, refused) = http_json_with(
        addr,
        "POST",
        "/api/jobs",
        &[("traceparent", "00-not-a-trace-01")],
        &json!({"job_name": "echo"}),
    );
    assert_eq!(status, 400, "a malformed traceparent is refused: {refused}");
    complete_then_stop(&mut serve, addr, &[&by_add, &by_api]);

    let mut all = Vec::new();
    while let Ok(export) = exports.recv_timeout(Duration::from_secs(5)) {
        if export.path == "/v1/traces" {
            all.extend(spans(&export.body));
        }
    }
    let find = |name: &str, job: Option<&str>| {
        all.iter()
            .find(|s| {
                s["name"] == name
                    && job.is_none_or(|id| attribute(s, "job_id").as_deref() == Some(id))
            })
            .unwrap_or_else(|| panic!("no span {name} for {job:?} among {all:#?}"))
    };
    let add_span = find("add_job", None);
    assert_eq!(attribute(add_span, "job_name").as_deref(), Some("echo"));
    let add_ids = (
        add_span["traceId"]
            .as_str()
            .expect("traceId")
            .to_lowercase(),
        add_span["spanId"].as_str().expect("spanId").to_lowercase(),
    );
    let attempt = find("attempt", Some(&by_add));
    assert_eq!(first_link(attempt), Some(add_ids), "{attempt:#}");
    let attempt = find("attempt", Some(&by_api));
    assert_eq!(
        first_link(attempt),
        Some((TRACE.to_string(), CALLER.to_string())),
        "{attempt:#}"
    );
}
