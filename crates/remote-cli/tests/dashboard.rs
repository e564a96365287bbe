//! The dashboard in process: pages, form actions, the JSON API, metrics, token and cross-site checks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use remote_cli::dashboard::{router, Dashboard, ProcessInfo};
use remote_cli::metrics::Metrics;
use remote_cli::store::Stores;
use remote_core::{
    handler_fn, JobContext, JobError, JobFactory, JobStatus, ManualClock, Misfire, Processor,
    Retention, SchedulerItem, WorkerConfig,
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
    assert!(
        overview.body.contains("id=\"store-kind\">memory<"),
        "{}",
        overview.body
    );
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
    assert!(
        detail.body.contains(&format!(
            "action=\"/jobs/{fail}/retry\"><button>Retry</button>"
        )),
        "{}",
        detail.body
    );
    let detail = get(&f.app, &format!("/jobs/{echo}")).await.body;
    assert!(detail.contains("id=\"output\"") && detail.contains("&lt;script&gt;"));
    assert!(!detail.contains("/retry\""));

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
    assert!(
        retried
            .location()
            .starts_with(&format!("/jobs/{id}?notice=")),
        "the same job, queued again: {}",
        retried.location()
    );
    let again = f.processor.get_job(&id).await.expect("job");
    assert_eq!(
        (again.status, again.attempt, again.completed_at),
        (JobStatus::Queued, 0, None)
    );
    let page = get(&f.app, &retried.location()).await.body;
    assert!(page.contains("Queued again (was cancelled)"), "{page}");
    f.processor.cancel_job(&id).await.expect("cancel");

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
        .add_scheduler_item(
            SchedulerItem::delay("echo", 10).with_misfire(Misfire::FireEach { max: 3 }),
        )
        .await
        .expect("item");
    let page = get(&f.app, "/schedule").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains(id.as_str())
            && page.body.contains("every 10s")
            && page.body.contains("<th>Misfire</th>")
            && page.body.contains("<td>each:3</td>")
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
    assert_eq!(stats["store"], json!({"kind": "memory", "url": "memory:"}));
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
    assert_eq!(job["job"]["attempt"], 1);
    assert_eq!(job["job"]["max_attempts"], 3);
    assert_eq!(job["job"]["not_before"], json!(null));
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
    let waiting = api(&f.app, "GET", &format!("/api/jobs/{later}"), None)
        .await
        .json();
    assert_eq!(waiting["job"]["not_before"], "2030-01-01T00:00:00Z");
    assert_eq!(waiting["job"]["attempt"], 0);
    let cancel = api(&f.app, "POST", &format!("/api/jobs/{later}/cancel"), None)
        .await
        .json();
    assert_eq!(cancel["cancelled"], true);
    let retried = api(&f.app, "POST", &format!("/api/jobs/{later}/retry"), None).await;
    assert_eq!(retried.status, StatusCode::OK);
    assert_eq!(
        retried.json(),
        json!({"id": later, "retried": true, "was": "cancelled"})
    );
    let again = api(&f.app, "GET", &format!("/api/jobs/{later}"), None)
        .await
        .json();
    assert_eq!(
        (&again["job"]["status"], &again["job"]["attempt"]),
        (&json!("queued"), &json!(0)),
        "{again}"
    );
    api(&f.app, "POST", &format!("/api/jobs/{later}/cancel"), None).await;

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
    assert_eq!(items[0]["locked_until"], json!(null));
    assert_eq!(items[0]["lock_duration"], 300_000);
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
    assert_eq!(workers["process"]["job_worker"], json!(null));
    assert_eq!(workers["process"]["store"]["kind"], "memory");
    assert!(api(&f.app, "GET", "/api", None).await.json()["routes"].is_array());
    assert_eq!(
        api(&f.app, "GET", "/api/health", None).await.json(),
        json!({"ok": true, "store": {"kind": "memory", "url": "memory:"}})
    );
    let missing = api(&f.app, "GET", "/api/nothing", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.json()["error"].is_string());
}

#[tokio::test]
async fn workers_show_concurrency_and_prefetch_of_the_running_worker() {
    let stores = Stores::memory();
    let worker = WorkerConfig::multi(3)
        .prefetch(5)
        .max_prefetch(40)
        .wait_time(Duration::from_millis(50));
    let processor = Processor::builder_with(stores.jobs.clone(), stores.items.clone())
        .name("web")
        .worker(worker.clone())
        .build();
    for factory in remote_cli::jobs::builtin_factories(false) {
        processor.register(factory).expect("register");
    }
    let app = router(
        Dashboard::new(processor.clone(), stores, Metrics::new()).with_process(ProcessInfo {
            worker: Some(worker),
            scheduler: false,
            pulls: vec!["echo".into(), "sleep".into()],
        }),
    );
    processor.start_processor();
    let workers = api(&app, "GET", "/api/workers", None).await.json();
    let page = get(&app, "/workers").await.body;
    processor.stop_processor().await;
    assert_eq!(
        workers["process"]["job_worker"],
        json!({"name": "web-worker", "kind": "multi", "concurrency": 3, "prefetch": 5, "max_prefetch": 40, "wait_time_ms": 50}),
        "{workers}"
    );
    assert_eq!(workers["process"]["pulls"], json!(["echo", "sleep"]));
    assert!(
        page.contains("up to 3 jobs at once, 5 to 40 claimed ahead"),
        "{page}"
    );
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

#[tokio::test]
async fn job_features_show_on_pages_and_in_the_api() {
    let f = fixture(None);
    let body = json!({"job_name": "echo", "input": {"n": 1}, "priority": 7, "timeout_ms": 1500, "unique_key": "report-7"});
    let added = api(&f.app, "POST", "/api/jobs", Some(body.clone())).await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    let id = added.json()["id"].as_str().expect("id").to_string();
    assert_eq!(added.json()["duplicate"], false);
    let again = api(&f.app, "POST", "/api/jobs", Some(body)).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.json(), json!({"id": id, "duplicate": true}));
    assert_eq!(
        f.processor.count_jobs().await.expect("count")[&JobStatus::Queued],
        1
    );

    let job = api(&f.app, "GET", &format!("/api/jobs/{id}"), None)
        .await
        .json();
    assert_eq!(
        (
            &job["job"]["priority"],
            &job["job"]["timeout"],
            &job["job"]["unique_key"],
            &job["job"]["unique_across"],
            &job["job"]["snoozes"]
        ),
        (
            &json!(7),
            &json!(1500),
            &json!("report-7"),
            &json!(["queued", "processing"]),
            &json!(0)
        ),
        "{job}"
    );
    let page = get(&f.app, &format!("/jobs/{id}")).await.body;
    for part in [
        "<span id=\"priority\">7</span>",
        "<span id=\"timeout\">1s 500ms</span>",
        "id=\"unique-key\">report-7</span>",
        "held while queued, processing",
        "<span id=\"snoozes\">0</span>",
    ] {
        assert!(page.contains(part), "missing {part} in\n{page}");
    }
    let list = get(&f.app, "/jobs").await.body;
    assert!(
        list.contains("<th>Priority</th>") && list.contains("<td>7</td>"),
        "{list}"
    );
    assert_eq!(
        api(
            &f.app,
            "POST",
            "/api/jobs",
            Some(json!({"job_name": "echo", "timeout_ms": 0}))
        )
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        api(
            &f.app,
            "POST",
            "/api/jobs",
            Some(json!({"job_name": "echo", "priority": 40000}))
        )
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn job_names_pause_and_resume_from_the_overview_and_the_api() {
    let f = fixture(None);
    let overview = get(&f.app, "/").await.body;
    assert!(
        overview.contains("action=\"/names/pause\"><input type=\"hidden\" name=\"name\" value=\"echo\"><button>Pause</button>"),
        "{overview}"
    );
    let paused = post_form(&f.app, "/names/pause", "name=echo").await;
    assert_eq!(paused.status, StatusCode::SEE_OTHER);
    let names = f.processor.paused_job_names().await.expect("paused");
    assert_eq!(
        names.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["echo"]
    );
    f.processor.add_job("echo", None).await.expect("add");
    assert!(
        !f.processor.process_next_job().await.expect("pull"),
        "a paused name is not claimed"
    );
    let overview = get(&f.app, "/").await.body;
    assert!(
        overview.contains("<tr class=\"paused-name\"><td>echo</td><td>paused since")
            && overview.contains("value=\"echo\"><button>Resume</button>"),
        "{overview}"
    );
    let listed = api(&f.app, "GET", "/api/paused", None).await.json();
    assert_eq!(listed[0]["name"], "echo", "{listed}");
    assert!(listed[0]["since"].is_string(), "{listed}");
    assert_eq!(
        api(&f.app, "GET", "/api/stats", None).await.json()["paused"][0]["name"],
        "echo"
    );
    let resumed = api(&f.app, "POST", "/api/names/echo/resume", None)
        .await
        .json();
    assert_eq!(resumed, json!({"name": "echo", "paused": false}));
    assert!(f.processor.process_next_job().await.expect("pull"));
    assert_eq!(
        api(&f.app, "POST", "/api/names/sleep/pause", None)
            .await
            .json(),
        json!({"name": "sleep", "paused": true})
    );
    assert_eq!(
        post_form(&f.app, "/names/resume", "name=sleep")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        api(&f.app, "GET", "/api/paused", None).await.json(),
        json!([])
    );
}

/// A dashboard over a processor on a manual clock, with a job kind that snoozes once.
fn clocked_fixture(clock: Arc<ManualClock>, retention: Retention) -> Fixture {
    let stores = Stores::memory();
    let processor = Processor::builder_with(stores.jobs.clone(), stores.items.clone())
        .clock(clock)
        .retention(retention)
        .build();
    for factory in remote_cli::jobs::builtin_factories(false) {
        processor.register(factory).expect("register");
    }
    processor
        .register(JobFactory::new(
            "fail",
            handler_fn(
                |_ctx: JobContext| async move { Err::<Value, _>(JobError::permanent("boom")) },
            ),
        ))
        .expect("register");
    let napped = Arc::new(AtomicBool::new(false));
    processor
        .register(JobFactory::new(
            "nap",
            handler_fn(move |_ctx: JobContext| {
                let first = !napped.swap(true, Ordering::SeqCst);
                async move {
                    if first {
                        Err(JobError::snooze(Duration::ZERO))
                    } else {
                        Ok(json!("rested"))
                    }
                }
            }),
        ))
        .expect("register");
    let metrics = Metrics::new();
    let collector = metrics.collect(&processor);
    Fixture {
        app: router(Dashboard::new(processor.clone(), stores, metrics)),
        processor,
        _collector: collector,
    }
}

async fn metrics_with(app: &Router, line: &str) -> String {
    let mut text = String::new();
    for _ in 0..100 {
        text = get(app, "/metrics").await.body;
        if text.lines().any(|l| l == line) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("missing {line} in\n{text}");
}

#[tokio::test]
async fn bulk_retry_prune_and_snoozes_with_their_metrics() {
    let clock = Arc::new(ManualClock::new(
        chrono::DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z")
            .expect("time")
            .with_timezone(&chrono::Utc),
    ));
    let f = clocked_fixture(
        clock.clone(),
        Retention::default().completed(Some(Duration::from_secs(3600))),
    );
    let failing = [
        f.processor.add_job("fail", None).await.expect("add"),
        f.processor.add_job("fail", None).await.expect("add"),
    ];
    let cancelled = f.processor.add_job("echo", None).await.expect("add");
    f.processor.cancel_job(&cancelled).await.expect("cancel");
    while f.processor.process_next_job().await.expect("process") {}
    let overview = get(&f.app, "/").await.body;
    assert!(overview.contains("Retry all in error"), "{overview}");

    let retried = post_form(&f.app, "/jobs/retry", "status=error&name=fail").await;
    assert_eq!(retried.status, StatusCode::SEE_OTHER);
    assert!(
        retried.location().contains("Queued%20again%3A%202%20error"),
        "{}",
        retried.location()
    );
    for id in &failing {
        assert_eq!(
            f.processor.job_status(id).await.expect("status"),
            JobStatus::Queued
        );
    }
    let bulk = api(&f.app, "POST", "/api/jobs/retry?status=cancelled", None)
        .await
        .json();
    assert_eq!(bulk, json!({"retried": {"cancelled": 1}}));
    assert_eq!(
        api(&f.app, "POST", "/api/jobs/retry?status=completed", None)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    // the nap job snoozes once, then completes; echo completes
    f.processor.cancel_job(&failing[0]).await.expect("cancel");
    f.processor.cancel_job(&failing[1]).await.expect("cancel");
    let nap = f.processor.add_job("nap", None).await.expect("add");
    while f.processor.process_next_job().await.expect("process") {}
    let napped = f.processor.get_job(&nap).await.expect("nap");
    assert_eq!((napped.status, napped.snoozes), (JobStatus::Completed, 1));
    let page = get(&f.app, &format!("/jobs/{nap}")).await.body;
    assert!(page.contains("<span id=\"snoozes\">1</span>"), "{page}");
    metrics_with(&f.app, "remote_jobs_snoozed_total{job_name=\"nap\"} 1").await;

    // completed jobs are kept an hour; cancelled ones seven days
    let pruned = api(&f.app, "POST", "/api/prune", None).await.json();
    assert_eq!(
        pruned,
        json!({"pruned": {"cancelled": 0, "completed": 0, "error": 0}})
    );
    clock.advance(Duration::from_secs(2 * 3600));
    let pruned = post_form(&f.app, "/prune", "").await;
    assert_eq!(pruned.status, StatusCode::SEE_OTHER);
    assert!(
        pruned
            .location()
            .contains("Pruned%200%20cancelled%2C%202%20completed"),
        "{}",
        pruned.location()
    );
    assert!(f.processor.get_job(&nap).await.is_err());
    assert_eq!(
        f.processor.count_jobs().await.expect("count")[&JobStatus::Cancelled],
        2
    );
    let text = metrics_with(&f.app, "remote_jobs_pruned_total{status=\"completed\"} 2").await;
    assert!(
        text.lines()
            .any(|l| l == "remote_jobs_pruned_total{status=\"cancelled\"} 0"),
        "{text}"
    );
    let pruning = api(&f.app, "GET", "/api/pruning", None).await.json();
    assert_eq!(
        pruning["retention"],
        json!({"completed": 3_600_000, "cancelled": 604_800_000, "error": 604_800_000})
    );
    assert_eq!(pruning["prune_interval_ms"], 60_000);
}

#[tokio::test]
async fn a_running_worker_prunes_and_the_overview_shows_when() {
    let stores = Stores::memory();
    let processor = Processor::builder_with(stores.jobs.clone(), stores.items.clone())
        .worker(WorkerConfig::simple().wait_time(Duration::from_millis(20)))
        .retention(Retention::default().completed(Some(Duration::ZERO)))
        .prune_interval(Duration::from_millis(50))
        .build();
    for factory in remote_cli::jobs::builtin_factories(false) {
        processor.register(factory).expect("register");
    }
    let metrics = Metrics::new();
    let _collector = metrics.collect(&processor);
    let app = router(Dashboard::new(processor.clone(), stores, metrics));
    let overview = get(&app, "/").await.body;
    assert!(
        overview.contains("<span id=\"prune-last\">not run yet</span>"),
        "{overview}"
    );
    assert!(
        overview.contains("completed 0s, cancelled 7days, error 7days"),
        "{overview}"
    );
    let id = processor.add_job("echo", None).await.expect("add");
    processor.start_processor();
    let mut pruning = Value::Null;
    for _ in 0..200 {
        pruning = api(&app, "GET", "/api/pruning", None).await.json();
        if pruning["last"]["removed"]["completed"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let overview = get(&app, "/").await.body;
    let stats = api(&app, "GET", "/api/stats", None).await.json();
    processor.stop_processor().await;
    assert_eq!(pruning["last"]["removed"]["completed"], 1, "{pruning}");
    assert!(pruning["last"]["last_run"].is_string() && pruning["last"]["took_ms"].is_u64());
    assert!(stats["pruning"]["holder"].is_string(), "{stats}");
    assert!(processor.get_job(&id).await.is_err(), "pruned");
    assert!(
        !overview.contains("not run yet")
            && overview.contains("removed <span id=\"prune-removed\">"),
        "{overview}"
    );
}

#[tokio::test]
async fn search_by_id_text_status_name_and_time() {
    let f = fixture(None);
    let invoice = f
        .processor
        .add_job("echo", json!({"customer": "ACME Corp", "invoice": 42}))
        .await
        .expect("add");
    let other = f
        .processor
        .add_job("echo", json!({"customer": "Globex"}))
        .await
        .expect("add");
    let slept = f
        .processor
        .add_job("sleep", json!({"seconds": 0, "note": "acme"}))
        .await
        .expect("add");

    let by_text = api(&f.app, "GET", "/api/jobs?q=acme", None).await.json();
    let ids: Vec<&str> = by_text["jobs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|j| j["id"].as_str())
        .collect();
    assert_eq!(ids, [slept.as_str(), invoice.as_str()], "{by_text}");
    assert_eq!(by_text["scanned"], 3);
    assert_eq!(by_text["truncated"], false);
    let named = api(&f.app, "GET", "/api/jobs?q=acme&name=echo", None)
        .await
        .json();
    assert_eq!(named["jobs"].as_array().map(Vec::len), Some(1), "{named}");
    let by_id = api(&f.app, "GET", &format!("/api/jobs?q={other}"), None)
        .await
        .json();
    assert_eq!(by_id["jobs"][0]["id"], other.as_str());
    assert_eq!(by_id["jobs"].as_array().map(Vec::len), Some(1));
    let wrong_status = api(
        &f.app,
        "GET",
        &format!("/api/jobs?q={other}&status=error"),
        None,
    )
    .await
    .json();
    assert_eq!(wrong_status["jobs"], json!([]));
    let future = api(
        &f.app,
        "GET",
        "/api/jobs?q=acme&from=2999-01-01T00:00",
        None,
    )
    .await
    .json();
    assert_eq!(future["jobs"], json!([]));
    let past = api(
        &f.app,
        "GET",
        "/api/jobs?from=2000-01-01&to=2999-01-01T00:00:00Z&per_page=2",
        None,
    )
    .await
    .json();
    assert_eq!(
        (past["jobs"].as_array().map(Vec::len), &past["has_more"]),
        (Some(2), &json!(true))
    );
    assert_eq!(
        api(&f.app, "GET", "/api/jobs?from=soon", None).await.status,
        StatusCode::BAD_REQUEST
    );

    let page = get(&f.app, "/jobs?q=ACME").await.body;
    assert!(
        page.contains(invoice.as_str())
            && page.contains(slept.as_str())
            && !page.contains(other.as_str()),
        "{page}"
    );
    assert!(
        page.contains("<p class=\"muted\" id=\"scanned\">Searched 3 jobs.</p>"),
        "{page}"
    );
    assert!(
        page.contains("value=\"ACME\""),
        "the search stays in its field"
    );
    assert!(
        page.contains(&format!(
            "<input type=\"checkbox\" class=\"sel\" name=\"id\" value=\"{invoice}\">"
        )),
        "{page}"
    );
}

#[tokio::test]
async fn bulk_actions_confirm_with_the_number_of_jobs_first() {
    let f = fixture(None);
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(f.processor.add_job("echo", json!(n)).await.expect("add"));
    }
    let done = f.processor.add_job("fail", None).await.expect("add");
    while f
        .processor
        .pull_next_job()
        .await
        .expect("pull")
        .is_some_and(|j| j.job_name != "fail")
    {}
    let _ = done;
    let form = format!(
        "action=cancel&id={}&id={}&back=%2Fjobs%3Fstatus%3Dqueued",
        ids[1], ids[2]
    );
    let ask = post_form(&f.app, "/jobs/bulk", &form).await;
    assert_eq!(ask.status, StatusCode::OK);
    assert!(ask.body.contains("<h1>Cancel 2 jobs?</h1>"), "{}", ask.body);
    assert!(ask.body.contains("<b id=\"touches\">2</b>"), "{}", ask.body);
    for id in &ids {
        assert_ne!(
            f.processor.job_status(id).await.expect("status"),
            JobStatus::Cancelled,
            "nothing changes before the confirmation"
        );
    }
    let done = post_form(&f.app, "/jobs/bulk", &format!("{form}&confirm=yes")).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert!(
        done.location()
            .starts_with("/jobs?status=queued&notice=Cancelled%202%20of%202"),
        "{}",
        done.location()
    );
    assert_eq!(
        f.processor.job_status(&ids[1]).await.expect("status"),
        JobStatus::Cancelled
    );
    assert_eq!(
        f.processor.job_status(&ids[2]).await.expect("status"),
        JobStatus::Cancelled
    );

    let retried = api(
        &f.app,
        "POST",
        "/api/jobs/bulk",
        Some(json!({"action": "retry", "ids": [ids[0], ids[1], ids[2]]})),
    )
    .await
    .json();
    assert_eq!(
        retried,
        json!({"action": "retry", "changed": 2, "unchanged": 1, "missing": 0})
    );
    assert_eq!(
        post_form(&f.app, "/jobs/bulk", "action=cancel")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        post_form(&f.app, "/jobs/bulk", "action=explode&id=x")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        post_form(&f.app, "/jobs/bulk", "action=cancel&id=nothex")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    // remove by status and name: counted first, then removed
    for id in &ids {
        f.processor.cancel_job(id).await.expect("cancel");
    }
    let other = f.processor.add_job("sleep", None).await.expect("add");
    f.processor.cancel_job(&other).await.expect("cancel");
    let ask = post_form(
        &f.app,
        "/jobs/bulk",
        "action=remove&status=cancelled&name=echo&back=%2Fjobs",
    )
    .await;
    assert!(ask.body.contains("<h1>Remove 3 jobs?</h1>"), "{}", ask.body);
    assert_eq!(
        f.processor.count_jobs().await.expect("count")[&JobStatus::Cancelled],
        4
    );
    let removed = post_form(
        &f.app,
        "/jobs/bulk",
        "action=remove&status=cancelled&name=echo&back=%2Fjobs&confirm=yes",
    )
    .await;
    assert!(
        removed.location().contains("Removed%203%20cancelled"),
        "{}",
        removed.location()
    );
    assert_eq!(
        f.processor.job_status(&other).await.expect("status"),
        JobStatus::Cancelled
    );
    assert_eq!(
        post_form(&f.app, "/jobs/bulk", "action=remove&status=queued")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let ask = post_form(
        &f.app,
        "/jobs/bulk",
        "action=remove&status=&back=https%3A%2F%2Fevil.example",
    )
    .await;
    assert!(
        ask.body.contains("<h1>Remove 1 jobs?</h1>") && ask.body.contains("href=\"/jobs\""),
        "{}",
        ask.body
    );
}

#[tokio::test]
async fn charts_data_counts_this_process_and_the_queue() {
    let f = fixture(None);
    for n in 0..3 {
        f.processor.add_job("echo", json!(n)).await.expect("add");
    }
    f.processor.add_job("fail", None).await.expect("add");
    f.processor
        .add_job("sleep", json!({"seconds": 0}))
        .await
        .expect("add");
    assert!(f.processor.process_next_job().await.expect("process"));
    assert!(f.processor.process_next_job().await.expect("process"));
    let mut data = Value::Null;
    for _ in 0..100 {
        data = api(&f.app, "GET", "/api/charts?window=300", None)
            .await
            .json();
        if data["rates"]["run_time"]["count"] == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sum = |k: &str| -> f64 {
        data["rates"][k]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_f64)
            .sum::<f64>()
            * 5.0
    };
    assert_eq!(
        (
            data["rates"]["window_s"].as_u64(),
            data["rates"]["step_s"].as_u64()
        ),
        (Some(300), Some(5)),
        "{data}"
    );
    assert_eq!(
        data["rates"]["completed"].as_array().map(Vec::len),
        Some(60)
    );
    assert_eq!(sum("completed").round(), 2.0, "{data}");
    assert_eq!(sum("failed"), 0.0);
    assert_eq!(data["rates"]["queue_latency"]["count"], 2);
    assert!(data["rates"]["run_time"]["p50"].is_f64(), "{data}");
    assert_eq!(
        data["depth"]["echo"],
        json!({"queued": 1, "processing": 0}),
        "{data}"
    );
    assert_eq!(data["depth"]["fail"], json!({"queued": 1, "processing": 0}));
    assert_eq!(data["depth_complete"], true);
    assert_eq!(data["counts"]["completed"], 2);
    let hour = api(&f.app, "GET", "/api/charts?window=3600", None)
        .await
        .json();
    assert_eq!(
        (
            hour["rates"]["window_s"].as_u64(),
            hour["rates"]["step_s"].as_u64()
        ),
        (Some(3600), Some(60))
    );
    let overview = get(&f.app, "/").await.body;
    assert!(
        overview.contains("<svg id=\"chart-rates\"")
            && overview.contains("fetch('/api/charts?window='"),
        "{overview}"
    );
    assert!(
        !overview.contains("src=\"http") && !overview.contains("href=\"http"),
        "nothing loads from elsewhere"
    );
}
