//! The JSON API under `/api`: the dashboard's data and actions for scripts.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use std::time::Duration;

use remote_core::{CancelOutcome, ItemId, JobId, JobOptions, JobQuery, JobStatus, Unique};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{retry, statuses_of, ApiError, Dashboard, ListParams};
use crate::commands::jobs::{add_through, paused_json, pruning_json, Added};

type ApiResult = Result<Response, ApiError>;

/// The API's routes, relative to `/api`.
pub(super) fn router() -> Router<Dashboard> {
    Router::new()
        .route("/", get(index))
        .route("/health", get(health))
        .route("/stats", get(stats))
        .route("/jobs", get(list_jobs).post(add_job).delete(remove_jobs))
        .route("/jobs/{id}", get(job))
        .route("/jobs/{id}/errors", get(job_errors))
        .route("/jobs/{id}/cancel", post(cancel_job))
        .route("/jobs/{id}/retry", post(retry_job))
        .route("/jobs/retry", post(retry_jobs))
        .route("/jobs/bulk", post(super::bulk::api))
        .route("/paused", get(paused))
        .route("/names/{name}/pause", post(pause_name))
        .route("/names/{name}/resume", post(resume_name))
        .route("/pruning", get(pruning))
        .route("/charts", get(charts))
        .route("/prune", post(prune))
        .route("/schedule", get(items))
        .route("/schedule/{id}", get(item).delete(remove_item))
        .route("/schedule/{id}/pause", post(pause_item))
        .route("/schedule/{id}/resume", post(resume_item))
        .route("/workers", get(workers))
}

fn ok(value: Value) -> ApiResult {
    Ok(Json(value).into_response())
}

async fn index() -> ApiResult {
    ok(json!({"routes": [
        "GET /api/health", "GET /api/stats",
        "GET /api/jobs?status=&name=&q=&from=&to=&page=&per_page=&order=oldest",
        "POST /api/jobs/bulk {action: cancel|retry, ids}",
        "POST /api/jobs {job_name, input, at, priority, timeout_ms, unique_key}", "DELETE /api/jobs?status=completed,error",
        "GET /api/jobs/{id}", "GET /api/jobs/{id}/errors",
        "POST /api/jobs/{id}/cancel", "POST /api/jobs/{id}/retry",
        "POST /api/jobs/retry?status=error,cancelled&name=",
        "GET /api/paused", "POST /api/names/{name}/pause", "POST /api/names/{name}/resume",
        "GET /api/pruning", "POST /api/prune", "GET /api/charts?window=300|3600",
        "GET /api/schedule", "GET /api/schedule/{id}", "DELETE /api/schedule/{id}",
        "POST /api/schedule/{id}/pause", "POST /api/schedule/{id}/resume",
        "GET /api/workers", "GET /metrics"
    ]}))
}

async fn health(State(d): State<Dashboard>) -> ApiResult {
    d.processor.count_jobs().await?;
    ok(json!({"ok": true, "store": d.stores.describe()}))
}

async fn stats(State(d): State<Dashboard>) -> ApiResult {
    let counts = d.processor.count_jobs().await?;
    let total: u64 = counts.values().sum();
    let paused = paused_json(&d.processor.paused_job_names().await?);
    let pruning = pruning_json(&d.processor.maintenance_leaders().await?);
    ok(json!({
        "store": d.stores.describe(), "counts": counts, "total": total,
        "paused": paused, "pruning": pruning,
    }))
}

async fn list_jobs(State(d): State<Dashboard>, Query(params): Query<ListParams>) -> ApiResult {
    let request = params.request()?;
    let found = request.find(&d).await?;
    ok(json!({
        "jobs": found.jobs, "page": request.page, "per_page": request.per_page,
        "has_more": found.has_more, "scanned": found.scanned, "truncated": found.truncated,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewJob {
    job_name: String,
    #[serde(default)]
    input: Option<Value>,
    #[serde(default)]
    at: Option<DateTime<Utc>>,
    #[serde(default)]
    priority: Option<i16>,
    #[serde(default)]
    timeout_ms: Option<u64>,
    #[serde(default)]
    unique_key: Option<String>,
}

/// `POST /api/jobs`; a W3C `traceparent` header becomes the job's trace context (R35).
async fn add_job(State(d): State<Dashboard>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let new: NewJob = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("body must be {{\"job_name\": …, \"input\": …, \"at\": RFC 3339, \"priority\": n, \"timeout_ms\": n, \"unique_key\": …}}: {e}"),
        )
    })?;
    let mut options = JobOptions::new();
    if let Some(at) = new.at {
        options = options.not_before(at);
    }
    if let Some(priority) = new.priority {
        options = options.priority(priority);
    }
    if let Some(ms) = new.timeout_ms {
        if ms == 0 {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "timeout_ms must be at least 1",
            ));
        }
        options = options.timeout(Duration::from_millis(ms));
    }
    if let Some(key) = new.unique_key {
        options = options.unique(Unique::key(key));
    }
    if let Some(traceparent) = headers.get("traceparent") {
        let text = traceparent.to_str().map_err(|_| {
            ApiError::new(StatusCode::BAD_REQUEST, "traceparent must be ASCII text")
        })?;
        options = options.trace_context(text);
    }
    match add_through(&d.processor, &new.job_name, new.input, options).await? {
        Added::New(id) => Ok((
            StatusCode::CREATED,
            Json(json!({"id": id, "duplicate": false})),
        )
            .into_response()),
        Added::Duplicate(id) => {
            Ok((StatusCode::OK, Json(json!({"id": id, "duplicate": true}))).into_response())
        }
    }
}

#[derive(Deserialize)]
struct RemoveParams {
    status: Option<String>,
}

async fn remove_jobs(State(d): State<Dashboard>, Query(params): Query<RemoveParams>) -> ApiResult {
    let statuses = statuses_of(params.status.as_deref().unwrap_or_default())?;
    let removed = d.processor.remove_jobs(&statuses).await?;
    ok(json!({"removed": removed}))
}

async fn job(State(d): State<Dashboard>, Path(id): Path<String>) -> ApiResult {
    let id = JobId::parse(&id)?;
    let job = d.processor.get_job(&id).await?;
    let errors = d.processor.job_errors(&id).await?;
    ok(json!({"job": job, "errors": errors}))
}

async fn job_errors(State(d): State<Dashboard>, Path(id): Path<String>) -> ApiResult {
    let id = JobId::parse(&id)?;
    ok(json!(d.processor.job_errors(&id).await?))
}

async fn cancel_job(State(d): State<Dashboard>, Path(id): Path<String>) -> ApiResult {
    let id = JobId::parse(&id)?;
    let body = match d.processor.cancel_job(&id).await? {
        CancelOutcome::Cancelled { was } => json!({"id": id, "cancelled": true, "was": was}),
        CancelOutcome::Unchanged(status) => json!({"id": id, "cancelled": false, "was": status}),
    };
    ok(body)
}

async fn retry_job(State(d): State<Dashboard>, Path(id): Path<String>) -> ApiResult {
    let (id, was) = retry(&d, &id).await?;
    ok(json!({"id": id, "retried": true, "was": was}))
}

#[derive(Deserialize)]
struct RetryParams {
    status: Option<String>,
    name: Option<String>,
}

async fn retry_jobs(State(d): State<Dashboard>, Query(params): Query<RetryParams>) -> ApiResult {
    let statuses = statuses_of(params.status.as_deref().unwrap_or_default())?;
    let name = params.name.filter(|n| !n.trim().is_empty());
    let retried = d.processor.retry_jobs(&statuses, name.as_deref()).await?;
    ok(json!({"retried": retried}))
}

async fn paused(State(d): State<Dashboard>) -> ApiResult {
    ok(paused_json(&d.processor.paused_job_names().await?))
}

async fn pause_name(State(d): State<Dashboard>, Path(name): Path<String>) -> ApiResult {
    d.processor.pause_job_name(&name).await?;
    ok(json!({"name": name, "paused": true}))
}

async fn resume_name(State(d): State<Dashboard>, Path(name): Path<String>) -> ApiResult {
    d.processor.resume_job_name(&name).await?;
    ok(json!({"name": name, "paused": false}))
}

#[derive(Deserialize)]
struct ChartParams {
    window: Option<u64>,
}

async fn charts(State(d): State<Dashboard>, Query(params): Query<ChartParams>) -> ApiResult {
    ok(super::charts::data(&d, params.window.unwrap_or(300)).await?)
}

async fn pruning(State(d): State<Dashboard>) -> ApiResult {
    ok(super::pruning(&d).await?)
}

async fn prune(State(d): State<Dashboard>) -> ApiResult {
    let mut pruned = d.processor.prune_finished_jobs().await?;
    for status in JobStatus::REMOVABLE {
        pruned.entry(status).or_insert(0);
    }
    ok(json!({"pruned": pruned}))
}

async fn items(State(d): State<Dashboard>) -> ApiResult {
    ok(json!(d.processor.scheduler_items().await?))
}

async fn item(State(d): State<Dashboard>, Path(id): Path<String>) -> ApiResult {
    let id = ItemId::parse(&id)?;
    ok(json!(d.processor.scheduler_item(&id).await?))
}

async fn remove_item(State(d): State<Dashboard>, Path(id): Path<String>) -> ApiResult {
    let id = ItemId::parse(&id)?;
    d.processor.remove_scheduler_item(&id).await?;
    ok(json!({"id": id, "removed": true}))
}

async fn pause_item(State(d): State<Dashboard>, Path(id): Path<String>) -> ApiResult {
    let id = ItemId::parse(&id)?;
    ok(json!(
        d.processor.set_scheduler_item_active(&id, false).await?
    ))
}

async fn resume_item(State(d): State<Dashboard>, Path(id): Path<String>) -> ApiResult {
    let id = ItemId::parse(&id)?;
    ok(json!(
        d.processor.set_scheduler_item_active(&id, true).await?
    ))
}

async fn workers(State(d): State<Dashboard>) -> ApiResult {
    let processing = d
        .processor
        .list_jobs(&JobQuery {
            statuses: vec![JobStatus::Processing],
            oldest_first: true,
            ..JobQuery::default()
        })
        .await?;
    let worker = d
        .process
        .worker
        .as_ref()
        .filter(|_| d.processor.is_processing())
        .map(|w| {
            json!({
                "name": format!("{}-worker", d.processor.name()),
                "kind": format!("{:?}", w.kind).to_lowercase(),
                "concurrency": w.concurrency,
                "prefetch": w.prefetch,
                "max_prefetch": w.max_prefetch,
                "wait_time_ms": w.wait_time.as_millis() as u64,
            })
        });
    let scheduler = d
        .processor
        .is_scheduling()
        .then(|| json!({"name": format!("{}-scheduler", d.processor.name())}));
    let kinds: Vec<String> = d
        .processor
        .factories()
        .into_iter()
        .map(|f| f.name)
        .collect();
    ok(json!({
        "process": {
            "job_worker": worker,
            "scheduler": scheduler,
            "job_kinds": kinds,
            "pulls": d.process.pulls,
            "running": d.processor.running_jobs(),
            "store": d.stores.describe(),
        },
        "processing": processing,
    }))
}
