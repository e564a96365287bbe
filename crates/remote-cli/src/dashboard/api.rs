//! The JSON API under `/api`: the dashboard's data and actions for scripts.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use remote_core::{CancelOutcome, ItemId, JobId, JobQuery, JobStatus};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{retry, ApiError, Dashboard, ListParams};

type ApiResult = Result<Response, ApiError>;

/// The API's routes, relative to `/api`.
pub fn router() -> Router<Dashboard> {
    Router::new()
        .route("/", get(index))
        .route("/health", get(health))
        .route("/stats", get(stats))
        .route("/jobs", get(list_jobs).post(add_job).delete(remove_jobs))
        .route("/jobs/{id}", get(job))
        .route("/jobs/{id}/errors", get(job_errors))
        .route("/jobs/{id}/cancel", post(cancel_job))
        .route("/jobs/{id}/retry", post(retry_job))
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
        "GET /api/jobs?status=&name=&page=&per_page=&order=oldest",
        "POST /api/jobs {job_name, input, at}", "DELETE /api/jobs?status=completed,error",
        "GET /api/jobs/{id}", "GET /api/jobs/{id}/errors",
        "POST /api/jobs/{id}/cancel", "POST /api/jobs/{id}/retry",
        "GET /api/schedule", "GET /api/schedule/{id}", "DELETE /api/schedule/{id}",
        "POST /api/schedule/{id}/pause", "POST /api/schedule/{id}/resume",
        "GET /api/workers", "GET /metrics"
    ]}))
}

async fn health(State(d): State<Dashboard>) -> ApiResult {
    d.processor.count_jobs().await?;
    ok(json!({"ok": true, "store": d.stores.display}))
}

async fn stats(State(d): State<Dashboard>) -> ApiResult {
    let counts = d.processor.count_jobs().await?;
    let total: u64 = counts.values().sum();
    ok(json!({"counts": counts, "total": total}))
}

async fn list_jobs(State(d): State<Dashboard>, Query(params): Query<ListParams>) -> ApiResult {
    let request = params.request()?;
    let mut jobs = d.processor.list_jobs(&request.query).await?;
    let has_more = jobs.len() as u64 > request.per_page;
    jobs.truncate(request.per_page as usize);
    ok(
        json!({"jobs": jobs, "page": request.page, "per_page": request.per_page, "has_more": has_more}),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewJob {
    job_name: String,
    #[serde(default)]
    input: Option<Value>,
    #[serde(default)]
    at: Option<DateTime<Utc>>,
}

async fn add_job(State(d): State<Dashboard>, body: Bytes) -> ApiResult {
    let new: NewJob = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("body must be {{\"job_name\": …, \"input\": …, \"at\": RFC 3339}}: {e}"),
        )
    })?;
    let id = match new.at {
        Some(at) => d.processor.add_job_at(&new.job_name, new.input, at).await?,
        None => d.processor.add_job(&new.job_name, new.input).await?,
    };
    Ok((StatusCode::CREATED, Json(json!({"id": id}))).into_response())
}

#[derive(Deserialize)]
struct RemoveParams {
    status: Option<String>,
}

async fn remove_jobs(State(d): State<Dashboard>, Query(params): Query<RemoveParams>) -> ApiResult {
    let statuses = params
        .status
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::parse::<JobStatus>)
        .collect::<Result<Vec<_>, _>>()?;
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
    let new = retry(&d, &id).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": new, "retry_of": id})),
    )
        .into_response())
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
                "max_threads": w.max_threads,
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
        },
        "processing": processing,
    }))
}
