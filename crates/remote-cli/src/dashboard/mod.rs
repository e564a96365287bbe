//! The dashboard served by `remote serve`: HTML pages, a JSON API under `/api`, `/metrics`,
//! and token authentication for addresses off loopback.

mod api;
mod auth;
mod bulk;
mod charts;
pub mod html;
mod pages;
pub mod search;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use remote_core::{Error, JobQuery, JobStatus, Processor, WorkerConfig};
use serde::Deserialize;
use serde_json::json;

use crate::metrics::{Metrics, Snapshot};
use crate::store::Stores;

/// Default page size of job lists.
pub const DEFAULT_PER_PAGE: u64 = 50;
/// Largest page size of job lists.
pub const MAX_PER_PAGE: u64 = 500;

/// What this process runs, shown on the workers page.
#[derive(Clone, Debug, Default)]
pub struct ProcessInfo {
    /// The job worker's settings, when this process runs one.
    pub worker: Option<WorkerConfig>,
    /// Whether this process runs the scheduler worker.
    pub scheduler: bool,
    /// The job kinds its job worker pulls.
    pub pulls: Vec<String>,
}

/// Everything the dashboard's handlers share.
#[derive(Clone, Debug)]
pub struct Dashboard {
    /// The processor of this process (its factories, workers and store).
    pub processor: Processor,
    /// The store it works on.
    pub stores: Stores,
    /// Metrics of this process.
    pub metrics: Arc<Metrics>,
    /// Token every request must carry, when set.
    pub token: Option<Arc<str>>,
    /// What this process runs.
    pub process: ProcessInfo,
}

impl Dashboard {
    /// A dashboard over a processor and its store, without a token.
    pub fn new(processor: Processor, stores: Stores, metrics: Arc<Metrics>) -> Self {
        Self {
            processor,
            stores,
            metrics,
            token: None,
            process: ProcessInfo::default(),
        }
    }

    /// Requires this token on every request (empty means none).
    pub fn with_token(mut self, token: Option<String>) -> Self {
        self.token = token.filter(|t| !t.is_empty()).map(Arc::from);
        self
    }

    /// Tells the workers page what this process runs.
    pub fn with_process(mut self, process: ProcessInfo) -> Self {
        self.process = process;
        self
    }

    /// The metrics snapshot of a scrape.
    async fn snapshot(&self) -> Snapshot {
        let counts = self.processor.count_jobs().await.ok();
        let items = self.processor.scheduler_items().await.ok().map(|items| {
            let active = items.iter().filter(|i| i.active).count() as u64;
            (active, items.len() as u64 - active)
        });
        Snapshot {
            counts,
            items,
            running: self.processor.running_jobs().len(),
            job_worker: self.processor.is_processing(),
            scheduler_worker: self.processor.is_scheduling(),
        }
    }
}

/// The dashboard's routes: pages, `/api/…`, `/metrics`, behind the token check.
pub fn router(dashboard: Dashboard) -> Router {
    Router::new()
        .route("/", get(pages::overview))
        .route("/jobs", get(pages::jobs))
        .route("/jobs/add", post(pages::add_job))
        .route("/jobs/remove", post(pages::remove_jobs))
        .route("/jobs/{id}", get(pages::job))
        .route("/jobs/{id}/cancel", post(pages::cancel_job))
        .route("/jobs/{id}/retry", post(pages::retry_job))
        .route("/jobs/retry", post(pages::retry_jobs))
        .route("/jobs/bulk", post(bulk::form))
        .route("/names/pause", post(pages::pause_name))
        .route("/names/resume", post(pages::resume_name))
        .route("/prune", post(pages::prune))
        .route("/schedule", get(pages::schedule))
        .route("/schedule/{id}/pause", post(pages::pause_item))
        .route("/schedule/{id}/resume", post(pages::resume_item))
        .route("/schedule/{id}/remove", post(pages::remove_item))
        .route("/workers", get(pages::workers))
        .route("/metrics", get(metrics))
        .nest("/api", api::router())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            dashboard.clone(),
            auth::check,
        ))
        .with_state(dashboard)
}

async fn metrics(axum::extract::State(d): axum::extract::State<Dashboard>) -> Response {
    let text = d.metrics.render(&d.snapshot().await);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn not_found(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api") {
        ApiError::new(StatusCode::NOT_FOUND, format!("no route {}", uri.path())).into_response()
    } else {
        PageError::new(StatusCode::NOT_FOUND, format!("no page {}", uri.path())).into_response()
    }
}

/// The HTTP status of a core error.
fn status_of(error: &Error) -> StatusCode {
    match error {
        Error::JobNotFound(_) | Error::ItemNotFound(_) => StatusCode::NOT_FOUND,
        Error::Store { .. } => StatusCode::SERVICE_UNAVAILABLE,
        Error::UnknownJob(_)
        | Error::InvalidRemoveStatus(_)
        | Error::InvalidCron(_)
        | Error::InvalidId { .. }
        | Error::InvalidInput(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A failed page request, rendered as an HTML page.
#[derive(Debug)]
pub struct PageError {
    status: StatusCode,
    message: String,
}

impl PageError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl From<Error> for PageError {
    fn from(error: Error) -> Self {
        Self::new(status_of(&error), remote_core::error::error_chain(&error))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let body = format!(
            "<p class=\"problem\">{}</p><p><a href=\"/\">Back to the overview</a></p>",
            html::esc(&self.message)
        );
        let title = self.status.canonical_reason().unwrap_or("Error");
        (self.status, Html(html::page(title, None, &body))).into_response()
    }
}

/// A failed API request, rendered as `{"error": "…"}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        Self::new(status_of(&error), remote_core::error::error_chain(&error))
    }
}

impl From<PageError> for ApiError {
    fn from(error: PageError) -> Self {
        Self::new(error.status, error.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({"error": self.message}))).into_response()
    }
}

/// Filters and paging of a job list, as query parameters.
#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    /// Comma separated statuses (empty: all).
    pub status: Option<String>,
    /// Job name (empty: all).
    pub name: Option<String>,
    /// Page number from 1.
    pub page: Option<String>,
    /// Jobs per page.
    pub per_page: Option<String>,
    /// `oldest` for oldest first.
    pub order: Option<String>,
    /// A job id, or text the input contains.
    pub q: Option<String>,
    /// Only jobs queued at or after this time.
    pub from: Option<String>,
    /// Only jobs queued before this time.
    pub to: Option<String>,
}

/// A parsed job list request.
#[derive(Debug)]
pub struct ListRequest {
    query: JobQuery,
    search: search::Search,
    page: u64,
    per_page: u64,
}

impl ListRequest {
    /// The page of jobs it asks for.
    async fn find(&self, d: &Dashboard) -> Result<search::Found, Error> {
        search::find(
            &d.processor,
            &self.query,
            &self.search,
            (self.page - 1).saturating_mul(self.per_page),
            self.per_page,
        )
        .await
    }
}

fn number(text: Option<&str>, default: u64, what: &str) -> Result<u64, PageError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(default),
        Some(t) => t.parse::<u64>().ok().filter(|n| *n >= 1).ok_or_else(|| {
            PageError::new(
                StatusCode::BAD_REQUEST,
                format!("{what} must be a whole number from 1, not '{t}'"),
            )
        }),
    }
}

impl ListParams {
    fn request(&self) -> Result<ListRequest, PageError> {
        let statuses = self
            .status
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<JobStatus>())
            .collect::<Result<Vec<_>, _>>()?;
        let page = number(self.page.as_deref(), 1, "page")?;
        let per_page =
            number(self.per_page.as_deref(), DEFAULT_PER_PAGE, "per_page")?.min(MAX_PER_PAGE);
        let query = JobQuery {
            statuses,
            job_name: self.name.clone().filter(|n| !n.trim().is_empty()),
            oldest_first: self.order.as_deref() == Some("oldest"),
            offset: 0,
            limit: None,
        };
        let search =
            search::Search::parse(self.q.as_deref(), self.from.as_deref(), self.to.as_deref())
                .map_err(|e| PageError::new(StatusCode::BAD_REQUEST, e))?;
        Ok(ListRequest {
            query,
            search,
            page,
            per_page,
        })
    }
}

/// Puts an `error` or `cancelled` job back in the queue (R30); its status before. A job in
/// another status, or whose unique key another job holds, is a conflict.
async fn retry(d: &Dashboard, id: &str) -> Result<(remote_core::JobId, JobStatus), PageError> {
    let id = remote_core::JobId::parse(id)?;
    match d.processor.retry_job(&id).await? {
        remote_core::RetryOutcome::Retried { was } => Ok((id, was)),
        remote_core::RetryOutcome::Unchanged(status) => Err(PageError::new(
            StatusCode::CONFLICT,
            if matches!(status, JobStatus::Error | JobStatus::Cancelled) {
                format!("job {id} is {status} but another job holds its unique key; retry it when that one is done")
            } else {
                format!("job {id} is {status}; only error and cancelled jobs can be retried")
            },
        )),
    }
}

/// Statuses from a comma separated text (empty: none).
fn statuses_of(text: &str) -> Result<Vec<JobStatus>, PageError> {
    Ok(text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::parse::<JobStatus>)
        .collect::<Result<Vec<_>, _>>()?)
}

/// The processor's retention and pruning as JSON: `{"retention": {status: ms|null},
/// "prune_interval_ms", "last": {holder, until, last_run, took_ms, removed}|null}`.
async fn pruning(d: &Dashboard) -> Result<serde_json::Value, Error> {
    let config = d.processor.config();
    let leaders = d.processor.maintenance_leaders().await?;
    let keep = |k: Option<std::time::Duration>| k.map(|k| k.as_millis() as u64);
    Ok(json!({
        "retention": {
            "completed": keep(config.retention.completed),
            "cancelled": keep(config.retention.cancelled),
            "error": keep(config.retention.error),
        },
        "prune_interval_ms": config.prune_interval.as_millis() as u64,
        "last": crate::commands::jobs::pruning_json(&leaders),
    }))
}
