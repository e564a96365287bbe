//! The dashboard in process: pages, form actions, the JSON API, metrics, token and cross-site checks.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use remote_cli::dashboard::{router, Dashboard};
use remote_cli::metrics::Metrics;
use remote_cli::store::Stores;
use remote_core::{
    handler_fn, JobContext, JobError, JobFactory, JobId, JobStatus, Processor, SchedulerItem,
};
use serde_json::{json, Value};
use tower::ServiceExt;

struct Fixture {
    processor: Processor,
    app: Router,
    _collector: tokio::task::JoinHandle<()>,
}

fn fixture(token: Option<&str>) -> Fixture {
    let stores = Stores::memory();
    let processor = Processor::builder_with(stores.jobs.clone(), stores.items.clone()).build();
    for factory in remote_cli::jobs::builtin_factories(false) {
        processor.register(factory).expect("register");
    }
    processor
        .register(JobFactory::new(
            "fail",
            handler_fn(|_ctx: JobContext| async move {
                Err::<Value, _>(JobError::permanent("boom <b>not bold</b>"))
            }),
        ))
        .expect("register");
    let metrics = Metrics::new();
    let collector = metrics.collect(&processor);
    let dashboard =
        Dashboard::new(processor.clone(), stores, metrics).with_token(token.map(String::from));
    Fixture {
        processor,
        app: router(dashboard),
        _collector: collector,
    }
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    fn location(&self) -> String {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }
}

async fn send(app: &Router, request: Request<Body>) -> Reply {
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

async fn get(app: &Router, uri: &str) -> Reply {
    send(app, Request::get(uri).body(Body::empty()).expect("request")).await
}

async fn post_form(app: &Router, uri: &str, form: &str) -> Reply {
    let request = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_string()))
        .expect("request");
    send(app, request).await
}

async fn api(app: &Router, method: &str, uri: &str, body: Option<Value>) -> Reply {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .expect("request");
    send(app, request).await
}

#[tokio::test]
async fn pages_show_counts_lists_and_details() {
    let f = fixture(None);
    let echo = f
        .processor
        .add_job("echo", json!({"x": "<script>alert(1)</script>"}))
        .await
        .expect("add");
    let fail = f.processor.add_job("fail", None).await.expect("add");
    assert!(f.processor.process_next_job().await.expect("process"));
    assert!(f.processor.process_next_job().await.expect("process"));

    let overview = get(&f.app, "/").await;
    assert_eq!(overview.status, StatusCode::OK);
    assert!(
        overview.body.contains("id=\"count-completed\">1<"),
        "{}",
        overview.body
    );
    assert!(overview.body.contains("id=\"count-error\">1<"));
    assert!(overview.body.contains("id=\"count-total\">2<"));
    assert!(!overview.body.contains("<script>alert"), "input is escaped");

    let jobs = get(&f.app, "/jobs").await;
    assert_eq!(jobs.status, StatusCode::OK);
    assert!(jobs.body.contains(echo.as_str()) && jobs.body.contains(fail.as_str()));
    let errors = get(&f.app, "/jobs?status=error").await.body;
    assert!(errors.contains(fail.as_str()) && !errors.contains(echo.as_str()));
    let named = get(&f.app, "/jobs?name=echo&status=").await.body;
    assert!(named.contains(echo.as_str()) && !named.contains(fail.as_str()));

    let detail = get(&f.app, &format!("/jobs/{fail}")).await;
    assert_eq!(detail.status, StatusCode::OK);
    assert!(
        detail.body.contains("boom &lt;b&gt;not bold&lt;/b&gt;"),
        "{}",
        detail.body
    );
    assert!(detail.body.contains("Retry as a new job"));
    let detail = get(&f.app, &format!("/jobs/{echo}")).await.body;
    assert!(detail.contains("id=\"output\"") && detail.contains("&lt;script&gt;"));
    assert!(!detail.contains("Retry as a new job"));

    assert_eq!(
        get(&f.app, "/jobs?status=bogus").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(&f.app, "/jobs?page=0").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(&f.app, "/jobs?per_page=x").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(&f.app, "/jobs/nothex").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(&f.app, "/jobs/0123456789abcdef01234567").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&f.app, "/nothing-here").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(get(&f.app, "/workers").await.status, StatusCode::OK);
}

#[tokio::test]
async fn job_list_pages() {
    let f = fixture(None);
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(f.processor.add_job("echo", json!(n)).await.expect("add"));
    }
    let first = get(&f.app, "/jobs?per_page=2").await.body;
    assert!(
        first.contains(ids[4].as_str())
            && first.contains(ids[3].as_str())
            && !first.contains(ids[2].as_str())
    );
    assert!(first.contains(">older<") && !first.contains(">newer<"));
    let last = get(&f.app, "/jobs?per_page=2&page=3").await.body;
    assert!(
        last.contains(ids[0].as_str()) && !last.contains(">older<") && last.contains(">newer<")
    );
    let oldest = get(&f.app, "/jobs?per_page=1&order=oldest").await.body;
    assert!(oldest.contains(ids[0].as_str()) && !oldest.contains(ids[1].as_str()));
}

#[tokio::test]
async fn form_actions_cancel_retry_remove_and_add() {
    let f = fixture(None);
    let id = f
        .processor
        .add_job("echo", json!({"again": true}))
        .await
        .expect("add");
    let retry_queued = post_form(&f.app, &format!("/jobs/{id}/retry"), "").await;
    assert_eq!(retry_queued.status, StatusCode::CONFLICT);

    let cancelled = post_form(&f.app, &format!("/jobs/{id}/cancel"), "").await;
    assert_eq!(cancelled.status, StatusCode::SEE_OTHER);
    assert!(cancelled
        .location()
        .starts_with(&format!("/jobs/{id}?notice=")));
    assert_eq!(
        f.processor.job_status(&id).await.expect("status"),
        JobStatus::Cancelled
    );

    let retried = post_form(&f.app, &format!("/jobs/{id}/retry"), "").await;
    assert_eq!(retried.status, StatusCode::SEE_OTHER);
    let new_id = retried
        .location()
        .strip_prefix("/jobs/")
        .and_then(|rest| rest.split('?').next())
        .and_then(|id| JobId::parse(id).ok())
        .expect("redirect to the new job");
    let new_job = f.processor.get_job(&new_id).await.expect("new job");
    assert_eq!(
        (
            new_job.job_name.as_str(),
            new_job.input.clone(),
            new_job.status
        ),
        ("echo", json!({"again": true}), JobStatus::Queued)
    );
    let page = get(&f.app, &retried.location()).await.body;
    assert!(page.contains("retry of job"), "{page}");

    let removed = post_form(&f.app, "/jobs/remove", "status=cancelled").await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    assert!(
        removed.location().contains("Removed%201%20cancelled"),
        "{}",
        removed.location()
    );
    assert!(f.processor.get_job(&id).await.is_err());
    assert_eq!(
        post_form(&f.app, "/jobs/remove", "status=queued")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    let added = post_form(&f.app, "/jobs/add", "job_name=echo&input=%7B%22a%22%3A1%7D").await;
    assert_eq!(added.status, StatusCode::SEE_OTHER);
    assert_eq!(
        post_form(&f.app, "/jobs/add", "job_name=echo&input=%7Bbad")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        post_form(&f.app, "/jobs/add", "job_name=nope&input=")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn schedule_page_pause_resume_remove() {
    let f = fixture(None);
    let id = f
        .processor
        .add_scheduler_item(SchedulerItem::delay("echo", 10))
        .await
        .expect("item");
    let page = get(&f.app, "/schedule").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains(id.as_str())
            && page.body.contains("every 10s")
            && page.body.contains("in 10s"),
        "{}",
        page.body
    );
    assert_eq!(
        post_form(&f.app, &format!("/schedule/{id}/pause"), "")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert!(!f.processor.scheduler_item(&id).await.expect("item").active);
    assert!(get(&f.app, "/schedule").await.body.contains("Resume"));
    assert_eq!(
        post_form(&f.app, &format!("/schedule/{id}/resume"), "")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert!(f.processor.scheduler_item(&id).await.expect("item").active);
    assert_eq!(
        post_form(&f.app, &format!("/schedule/{id}/remove"), "")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert!(f.processor.scheduler_item(&id).await.is_err());
    assert_eq!(
        post_form(&f.app, &format!("/schedule/{id}/pause"), "")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn json_api() {
    let f = fixture(None);
    let added = api(
        &f.app,
        "POST",
        "/api/jobs",
        Some(json!({"job_name": "echo", "input": {"k": 1}})),
    )
    .await;
    assert_eq!(added.status, StatusCode::CREATED);
    let id = added.json()["id"].as_str().expect("id").to_string();
    assert_eq!(
        api(
            &f.app,
            "POST",
            "/api/jobs",
            Some(json!({"job_name": "nope"}))
        )
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
    let bad = api(&f.app, "POST", "/api/jobs", None).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.json()["error"].is_string());
    let later = api(
        &f.app,
        "POST",
        "/api/jobs",
        Some(json!({"job_name": "echo", "at": "2030-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(later.status, StatusCode::CREATED);

    let stats = api(&f.app, "GET", "/api/stats", None).await.json();
    assert_eq!(stats["counts"]["queued"], 2);
    assert_eq!(stats["total"], 2);
    let list = api(&f.app, "GET", "/api/jobs?per_page=1", None)
        .await
        .json();
    assert_eq!(list["jobs"].as_array().map(Vec::len), Some(1));
    assert_eq!(list["has_more"], true);
    let list = api(
        &f.app,
        "GET",
        "/api/jobs?status=queued&name=echo&order=oldest",
        None,
    )
    .await
    .json();
    assert_eq!(list["jobs"][0]["id"], id.as_str());

    assert!(f.processor.process_next_job().await.expect("process"));
    let job = api(&f.app, "GET", &format!("/api/jobs/{id}"), None)
        .await
        .json();
    assert_eq!(job["job"]["status"], "completed");
    assert_eq!(job["job"]["output"], json!({"k": 1}));
    assert_eq!(job["errors"], json!([]));
    assert_eq!(
        api(&f.app, "GET", &format!("/api/jobs/{id}/errors"), None)
            .await
            .json(),
        json!([])
    );
    let cancel = api(&f.app, "POST", &format!("/api/jobs/{id}/cancel"), None)
        .await
        .json();
    assert_eq!(
        cancel,
        json!({"id": id, "cancelled": false, "was": "completed"})
    );
    assert_eq!(
        api(&f.app, "POST", &format!("/api/jobs/{id}/retry"), None)
            .await
            .status,
        StatusCode::CONFLICT
    );
    let later = later.json()["id"].as_str().expect("id").to_string();
    let cancel = api(&f.app, "POST", &format!("/api/jobs/{later}/cancel"), None)
        .await
        .json();
    assert_eq!(cancel["cancelled"], true);
    let retried = api(&f.app, "POST", &format!("/api/jobs/{later}/retry"), None).await;
    assert_eq!(retried.status, StatusCode::CREATED);
    assert_eq!(retried.json()["retry_of"], later.as_str());

    assert_eq!(
        api(&f.app, "DELETE", "/api/jobs?status=queued", None)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let removed = api(
        &f.app,
        "DELETE",
        "/api/jobs?status=completed,cancelled",
        None,
    )
    .await
    .json();
    assert_eq!(removed["removed"], json!({"completed": 1, "cancelled": 1}));
    assert_eq!(
        api(&f.app, "GET", &format!("/api/jobs/{id}"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api(&f.app, "GET", "/api/jobs/xyz", None).await.status,
        StatusCode::BAD_REQUEST
    );

    let item = f
        .processor
        .add_scheduler_item(SchedulerItem::crontab(
            "echo",
            "*/5 * * * *",
            "Europe/Zurich",
        ))
        .await
        .expect("item");
    let items = api(&f.app, "GET", "/api/schedule", None).await.json();
    assert_eq!(items[0]["id"], item.as_str());
    assert!(items[0]["next_call_time"].is_string());
    assert_eq!(
        api(&f.app, "GET", &format!("/api/schedule/{item}"), None)
            .await
            .json()["job_name"],
        "echo"
    );
    assert_eq!(
        api(&f.app, "POST", &format!("/api/schedule/{item}/pause"), None)
            .await
            .json()["active"],
        false
    );
    assert_eq!(
        api(
            &f.app,
            "POST",
            &format!("/api/schedule/{item}/resume"),
            None
        )
        .await
        .json()["active"],
        true
    );
    assert_eq!(
        api(&f.app, "DELETE", &format!("/api/schedule/{item}"), None)
            .await
            .json()["removed"],
        true
    );
    assert_eq!(
        api(&f.app, "GET", &format!("/api/schedule/{item}"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    let workers = api(&f.app, "GET", "/api/workers", None).await.json();
    assert_eq!(
        workers["process"]["job_kinds"],
        json!(["echo", "fail", "sleep"])
    );
    assert!(workers["processing"].is_array());
    assert!(api(&f.app, "GET", "/api", None).await.json()["routes"].is_array());
    assert_eq!(
        api(&f.app, "GET", "/api/health", None).await.json()["ok"],
        true
    );
    let missing = api(&f.app, "GET", "/api/nothing", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.json()["error"].is_string());
}

#[tokio::test]
async fn metrics_count_attempts_by_job_name() {
    let f = fixture(None);
    f.processor.add_job("echo", None).await.expect("add");
    f.processor.add_job("fail", None).await.expect("add");
    while f.processor.process_next_job().await.expect("process") {}
    let mut text = String::new();
    for _ in 0..100 {
        let reply = get(&f.app, "/metrics").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(reply
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/plain; version=0.0.4")));
        text = reply.body;
        if text.contains("remote_jobs_failed_total{job_name=\"fail\"} 1") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for line in [
        "remote_store_up 1",
        "remote_jobs{status=\"completed\"} 1",
        "remote_jobs{status=\"error\"} 1",
        "remote_jobs{status=\"queued\"} 0",
        "remote_job_attempts_started_total{job_name=\"echo\"} 1",
        "remote_jobs_completed_total{job_name=\"echo\"} 1",
        "remote_jobs_failed_total{job_name=\"fail\"} 1",
        "remote_job_run_seconds_count{job_name=\"fail\"} 1",
        "remote_job_queue_latency_seconds_bucket{job_name=\"echo\",le=\"+Inf\"} 1",
        "# TYPE remote_job_run_seconds histogram",
        "remote_jobs_running 0",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
    }
}

#[tokio::test]
async fn token_is_required_on_every_request() {
    let f = fixture(Some("s3cret"));
    for uri in ["/", "/jobs", "/metrics", "/api/stats"] {
        assert_eq!(
            get(&f.app, uri).await.status,
            StatusCode::UNAUTHORIZED,
            "{uri}"
        );
    }
    let api_reply = get(&f.app, "/api/stats").await;
    assert!(api_reply.json()["error"].is_string());
    assert_eq!(
        api_reply
            .headers
            .get(header::WWW_AUTHENTICATE)
            .map(|v| v.as_bytes()),
        Some(&b"Bearer"[..])
    );
    let with = |name: header::HeaderName, value: &str| {
        Request::get("/api/stats")
            .header(name, value)
            .body(Body::empty())
            .expect("request")
    };
    assert_eq!(
        send(&f.app, with(header::AUTHORIZATION, "Bearer s3cret"))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        send(&f.app, with(header::AUTHORIZATION, "Bearer s3cre"))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&f.app, with(header::AUTHORIZATION, "s3cret"))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&f.app, with(header::COOKIE, "a=b; remote_token=s3cret"))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        send(&f.app, with(header::COOKIE, "remote_token=nope"))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let browser = get(&f.app, "/jobs?token=s3cret").await;
    assert_eq!(browser.status, StatusCode::OK);
    let cookie = browser
        .headers
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        cookie.starts_with("remote_token=s3cret;") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    assert_eq!(
        get(&f.app, "/jobs?token=wrong").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn cross_site_posts_are_refused() {
    let f = fixture(None);
    let id = f.processor.add_job("echo", None).await.expect("add");
    let post = |origin: Option<&str>, site: Option<&str>| {
        let mut request =
            Request::post(format!("/jobs/{id}/cancel")).header(header::HOST, "127.0.0.1:8080");
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        if let Some(site) = site {
            request = request.header("sec-fetch-site", site);
        }
        request.body(Body::empty()).expect("request")
    };
    assert_eq!(
        send(&f.app, post(Some("http://evil.example"), None))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&f.app, post(None, Some("cross-site"))).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        f.processor.job_status(&id).await.expect("status"),
        JobStatus::Queued
    );
    assert_eq!(
        send(
            &f.app,
            post(Some("http://127.0.0.1:8080"), Some("same-origin"))
        )
        .await
        .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        f.processor.job_status(&id).await.expect("status"),
        JobStatus::Cancelled
    );
}

#[test]
fn binding_off_loopback_needs_a_token() {
    use remote_cli::runtime::check_bind;
    let any: std::net::SocketAddr = "0.0.0.0:8080".parse().expect("addr");
    assert_eq!(check_bind(any, None).map_err(|e| e.code), Err(2));
    assert_eq!(check_bind(any, Some("")).map_err(|e| e.code), Err(2));
    assert!(check_bind(any, Some("t")).is_ok());
    for local in ["127.0.0.1:8080", "[::1]:8080"] {
        assert!(check_bind(local.parse().expect("addr"), None).is_ok());
    }
}
