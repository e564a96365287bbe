//! Bulk actions of the job list: cancel or retry the selected jobs, remove every finished job
//! matching a status and name. Each first shows a page saying how many jobs it touches, with
//! a button to confirm; nothing changes before that.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Json;
use remote_core::retention::PRUNE_BATCH;
use remote_core::{CancelOutcome, JobId, JobQuery, JobStatus, RetryOutcome};
use serde::Deserialize;
use serde_json::json;

use super::html::{esc, page, url_value};
use super::{statuses_of, ApiError, Dashboard, PageError};

/// Most jobs one bulk action on a selection takes.
pub(super) const MAX_SELECTION: usize = 1000;

/// What a bulk action does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum Action {
    /// Cancel the selected jobs (those queued or processing).
    Cancel,
    /// Retry the selected jobs (those in error or cancelled).
    Retry,
    /// Remove every finished job of the statuses and name.
    Remove,
}

impl Action {
    fn verb(self) -> &'static str {
        match self {
            Action::Cancel => "Cancel",
            Action::Retry => "Retry",
            Action::Remove => "Remove",
        }
    }

    /// The statuses a selected job must have for the action to change it.
    fn applies_to(self, status: JobStatus) -> bool {
        match self {
            Action::Cancel => matches!(status, JobStatus::Queued | JobStatus::Processing),
            Action::Retry => matches!(status, JobStatus::Error | JobStatus::Cancelled),
            Action::Remove => status.is_final(),
        }
    }
}

/// What the action did to each selected job: changed, left as it was, not found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Tally {
    changed: u64,
    unchanged: u64,
    missing: u64,
}

fn parse_ids(ids: &[String]) -> Result<Vec<JobId>, PageError> {
    if ids.is_empty() {
        return Err(PageError::new(
            StatusCode::BAD_REQUEST,
            "select at least one job",
        ));
    }
    if ids.len() > MAX_SELECTION {
        return Err(PageError::new(
            StatusCode::BAD_REQUEST,
            format!("select at most {MAX_SELECTION} jobs at once"),
        ));
    }
    let mut parsed: Vec<JobId> = Vec::new();
    for id in ids {
        let id = JobId::parse(id)?;
        if !parsed.contains(&id) {
            parsed.push(id);
        }
    }
    Ok(parsed)
}

/// Cancels or retries each selected job.
async fn apply(d: &Dashboard, action: Action, ids: &[JobId]) -> Result<Tally, PageError> {
    let mut tally = Tally::default();
    for id in ids {
        let changed = match action {
            Action::Cancel => d
                .processor
                .cancel_job(id)
                .await
                .map(|o| matches!(o, CancelOutcome::Cancelled { .. })),
            Action::Retry => d
                .processor
                .retry_job(id)
                .await
                .map(|o| matches!(o, RetryOutcome::Retried { .. })),
            Action::Remove => {
                return Err(PageError::new(
                    StatusCode::BAD_REQUEST,
                    "remove takes a status and a name, not a selection",
                ))
            }
        };
        match changed {
            Ok(true) => tally.changed += 1,
            Ok(false) => tally.unchanged += 1,
            Err(remote_core::Error::JobNotFound(_)) => tally.missing += 1,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(tally)
}

/// The final statuses a removal takes: those given, all three when none.
fn removable(statuses: &[JobStatus]) -> Result<Vec<JobStatus>, PageError> {
    if let Some(live) = statuses.iter().find(|s| !s.is_final()) {
        return Err(PageError::new(
            StatusCode::BAD_REQUEST,
            format!("{live} jobs are not removed; pick completed, cancelled or error"),
        ));
    }
    Ok(if statuses.is_empty() {
        JobStatus::REMOVABLE.to_vec()
    } else {
        statuses.to_vec()
    })
}

/// How many finished jobs of these statuses (and name) there are: from the store's counts,
/// or by listing them when a name narrows it (the store counts by status only).
async fn count_matching(
    d: &Dashboard,
    statuses: &[JobStatus],
    name: Option<&str>,
) -> Result<u64, PageError> {
    let Some(name) = name else {
        let counts = d.processor.count_jobs().await?;
        return Ok(statuses
            .iter()
            .map(|s| counts.get(s).copied().unwrap_or(0))
            .sum());
    };
    let page = PRUNE_BATCH as u64;
    let mut offset = 0;
    loop {
        let jobs = d
            .processor
            .list_jobs(&JobQuery {
                statuses: statuses.to_vec(),
                job_name: Some(name.to_string()),
                oldest_first: true,
                offset,
                limit: Some(page),
            })
            .await?;
        offset += jobs.len() as u64;
        if (jobs.len() as u64) < page {
            return Ok(offset);
        }
    }
}

/// The fields of a bulk form.
#[derive(Debug, Default)]
struct BulkForm {
    action: Option<String>,
    ids: Vec<String>,
    status: String,
    name: String,
    back: String,
    confirmed: bool,
}

fn parse_form(body: &[u8]) -> BulkForm {
    let mut form = BulkForm::default();
    for (key, value) in form_urlencoded::parse(body) {
        match key.as_ref() {
            "action" => form.action = Some(value.into_owned()),
            "id" => form.ids.push(value.into_owned()),
            "status" => form.status = value.into_owned(),
            "name" => form.name = value.into_owned(),
            "back" => form.back = value.into_owned(),
            "confirm" => form.confirmed = value == "yes",
            _ => {}
        }
    }
    form
}

fn action_of(text: Option<&str>) -> Result<Action, PageError> {
    match text {
        Some("cancel") => Ok(Action::Cancel),
        Some("retry") => Ok(Action::Retry),
        Some("remove") => Ok(Action::Remove),
        other => Err(PageError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "unknown bulk action '{}': cancel, retry or remove",
                other.unwrap_or_default()
            ),
        )),
    }
}

/// Where to go back to: a path of this dashboard's job list only.
fn back_to(back: &str) -> String {
    if back.starts_with("/jobs") && !back.contains("://") {
        back.to_string()
    } else {
        "/jobs".into()
    }
}

fn with_notice(back: &str, notice: &str) -> String {
    let sep = if back.contains('?') { '&' } else { '?' };
    format!("{back}{sep}notice={}", url_value(notice))
}

/// `POST /jobs/bulk`: without `confirm=yes`, a page saying how many jobs the action touches
/// and a button to confirm; with it, the action, then back to the list with what it did.
pub(super) async fn form(State(d): State<Dashboard>, body: Bytes) -> Result<Response, PageError> {
    let form = parse_form(&body);
    let action = action_of(form.action.as_deref())?;
    let back = back_to(&form.back);
    let name = Some(form.name.trim()).filter(|n| !n.is_empty());
    if action == Action::Remove {
        let statuses = removable(&statuses_of(&form.status)?)?;
        if form.confirmed {
            let removed = d
                .processor
                .remove_jobs_in_batches(&statuses, name, None)
                .await?;
            let text: Vec<String> = removed.iter().map(|(s, n)| format!("{n} {s}")).collect();
            let notice = format!("Removed {}", text.join(", "));
            return Ok(Redirect::to(&with_notice(&back, &notice)).into_response());
        }
        let n = count_matching(&d, &statuses, name).await?;
        let what: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
        let scope = format!(
            "{} jobs{}",
            what.join(", "),
            name.map(|n| format!(" named <b>{}</b>", esc(n)))
                .unwrap_or_default()
        );
        let hidden = format!(
            "<input type=\"hidden\" name=\"action\" value=\"remove\">\
<input type=\"hidden\" name=\"status\" value=\"{}\"><input type=\"hidden\" name=\"name\" value=\"{}\">",
            esc(&form.status),
            esc(&form.name)
        );
        return Ok(confirm_page(
            &format!("Remove {n} jobs?"),
            &format!("<p>This removes <b id=\"touches\">{n}</b> finished jobs: every {scope}, with their error records.</p>"),
            &hidden,
            &format!("Remove {n} jobs"),
            &back,
        ));
    }
    let ids = parse_ids(&form.ids)?;
    if form.confirmed {
        let tally = apply(&d, action, &ids).await?;
        let done = match action {
            Action::Cancel => "Cancelled",
            _ => "Queued again",
        };
        let mut notice = format!("{done} {} of {} jobs", tally.changed, ids.len());
        if tally.unchanged > 0 {
            notice.push_str(&format!("; {} left as they were", tally.unchanged));
        }
        if tally.missing > 0 {
            notice.push_str(&format!("; {} no longer exist", tally.missing));
        }
        return Ok(Redirect::to(&with_notice(&back, &notice)).into_response());
    }
    let mut by_status: BTreeMap<JobStatus, u64> = BTreeMap::new();
    let mut missing = 0;
    for id in &ids {
        match d.processor.job_status(id).await {
            Ok(status) => *by_status.entry(status).or_insert(0) += 1,
            Err(remote_core::Error::JobNotFound(_)) => missing += 1,
            Err(e) => return Err(e.into()),
        }
    }
    let changes: u64 = by_status
        .iter()
        .filter(|(s, _)| action.applies_to(**s))
        .map(|(_, n)| n)
        .sum();
    let n = ids.len();
    let statuses: Vec<String> = by_status.iter().map(|(s, n)| format!("{n} {s}")).collect();
    let rule = match action {
        Action::Cancel => "queued or processing jobs are cancelled; the others are left as they are",
        _ => "jobs in error or cancelled go back in the queue with a fresh attempt budget; the others are left as they are",
    };
    let mut text = format!(
        "<p>{verb} <b id=\"touches\">{n}</b> selected jobs: {statuses}{missing}. \
<b id=\"changes\">{changes}</b> of them will change ({rule}).</p>",
        verb = action.verb(),
        statuses = statuses.join(", "),
        missing = if missing > 0 {
            format!(", {missing} no longer exist")
        } else {
            String::new()
        },
    );
    text.push_str("<ul class=\"mono\">");
    for id in ids.iter().take(50) {
        text.push_str(&format!("<li><a href=\"/jobs/{id}\">{id}</a></li>"));
    }
    if n > 50 {
        text.push_str(&format!("<li>… and {} more</li>", n - 50));
    }
    text.push_str("</ul>");
    let mut hidden = format!(
        "<input type=\"hidden\" name=\"action\" value=\"{}\">",
        action.verb().to_lowercase()
    );
    for id in &ids {
        hidden.push_str(&format!(
            "<input type=\"hidden\" name=\"id\" value=\"{id}\">"
        ));
    }
    Ok(confirm_page(
        &format!("{} {n} jobs?", action.verb()),
        &text,
        &hidden,
        &format!("{} {n} jobs", action.verb()),
        &back,
    ))
}

fn confirm_page(title: &str, text: &str, hidden: &str, label: &str, back: &str) -> Response {
    let body = format!(
        "{text}<form method=\"post\" action=\"/jobs/bulk\">{hidden}\
<input type=\"hidden\" name=\"back\" value=\"{back}\"><input type=\"hidden\" name=\"confirm\" value=\"yes\">\
<button id=\"confirm\">{label}</button> <a href=\"{back}\">Back, change nothing</a></form>",
        back = esc(back),
        label = esc(label),
    );
    Html(page(title, None, &body)).into_response()
}

/// Body of `POST /api/jobs/bulk`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BulkRequest {
    action: Action,
    #[serde(default)]
    ids: Vec<String>,
    #[serde(default)]
    statuses: Vec<JobStatus>,
    #[serde(default)]
    name: Option<String>,
}

/// `POST /api/jobs/bulk`: `{"action": "cancel"|"retry", "ids": […]}` answers `{"action",
/// "changed", "unchanged", "missing"}`; `{"action": "remove", "statuses": […], "name": …}`
/// answers `{"action", "removed": {status: n}}`.
pub(super) async fn api(State(d): State<Dashboard>, body: Bytes) -> Result<Response, ApiError> {
    let request: BulkRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("body must be {{\"action\": \"cancel\"|\"retry\"|\"remove\", \"ids\": […], \"statuses\": […], \"name\": …}}: {e}"),
        )
    })?;
    let name = request.name.as_deref().filter(|n| !n.trim().is_empty());
    if request.action == Action::Remove {
        let statuses = removable(&request.statuses)?;
        let removed = d
            .processor
            .remove_jobs_in_batches(&statuses, name, None)
            .await?;
        return Ok(Json(json!({"action": "remove", "removed": removed})).into_response());
    }
    let ids = parse_ids(&request.ids)?;
    let tally = apply(&d, request.action, &ids).await?;
    Ok(Json(json!({
        "action": request.action.verb().to_lowercase(),
        "changed": tally.changed,
        "unchanged": tally.unchanged,
        "missing": tally.missing,
    }))
    .into_response())
}
