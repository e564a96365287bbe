//! Server-rendered pages and the form actions behind their buttons.

use axum::extract::{Path, Query, State};
use axum::response::{Html, Redirect};
use axum::Form;
use remote_core::{ItemId, Job, JobId, JobQuery, JobStatus, SchedulerItem};
use serde::Deserialize;

use super::html::{badge, button, esc, excerpt, page, pretty, relative, time, url_value};
use super::{retry, Dashboard, ListParams, PageError};
use crate::output::rule;

/// A page or an error page.
type PageResult = Result<Html<String>, PageError>;

/// A notice shown after an action (`?notice=`).
#[derive(Debug, Default, Deserialize)]
pub struct Notice {
    notice: Option<String>,
}

fn jobs_rows(jobs: &[Job]) -> String {
    if jobs.is_empty() {
        return "<p class=\"muted\">No jobs.</p>".into();
    }
    let mut rows = String::new();
    for j in jobs {
        rows.push_str(&format!(
            "<tr><td class=\"mono\"><a href=\"/jobs/{id}\">{id}</a></td><td>{name}</td><td>{status}</td>\
<td>{tries}/{max}</td><td>{queued}</td><td>{picked}</td><td>{done}</td><td class=\"mono\">{input}</td></tr>",
            id = j.id,
            name = esc(&j.job_name),
            status = badge(j.status),
            tries = j.retry_counter,
            max = j.max_retries,
            queued = time(Some(j.queued_at)),
            picked = time(j.picked_at),
            done = time(j.completed_at),
            input = excerpt(&j.input, 60),
        ));
    }
    format!(
        "<table><tr><th>Id</th><th>Name</th><th>Status</th><th>Attempts</th><th>Queued (UTC)</th>\
<th>Picked</th><th>Finished</th><th>Input</th></tr>{rows}</table>"
    )
}

fn remove_buttons() -> String {
    let mut out = String::from("<p>");
    for (status, label) in [
        ("completed", "Remove completed"),
        ("error", "Remove error"),
        ("cancelled", "Remove cancelled"),
        ("", "Remove all finished"),
    ] {
        out.push_str(&format!(
            "<form class=\"inline\" method=\"post\" action=\"/jobs/remove\" onsubmit=\"return confirm('{label}?')\">\
<input type=\"hidden\" name=\"status\" value=\"{status}\"><button>{label}</button></form> "
        ));
    }
    out.push_str("</p>");
    out
}

/// `GET /`: counts by status, workers, scheduler summary, newest jobs, add and remove forms.
pub async fn overview(State(d): State<Dashboard>, Query(n): Query<Notice>) -> PageResult {
    let counts = d.processor.count_jobs().await?;
    let total: u64 = counts.values().sum();
    let mut cards = String::new();
    for (status, count) in &counts {
        cards.push_str(&format!(
            "<a class=\"card\" href=\"/jobs?status={status}\"><div class=\"n\" id=\"count-{status}\">{count}</div>{}</a>",
            badge(*status)
        ));
    }
    cards.push_str(&format!(
        "<a class=\"card\" href=\"/jobs\"><div class=\"n\" id=\"count-total\">{total}</div>all jobs</a>"
    ));
    let processing = d
        .processor
        .list_jobs(&JobQuery {
            statuses: vec![JobStatus::Processing],
            ..JobQuery::default()
        })
        .await?;
    let items = d.processor.scheduler_items().await?;
    let now = d.processor.now();
    let next_item = items
        .iter()
        .filter(|i| i.active)
        .filter_map(|i| i.next_call_time.map(|t| (t, i)))
        .min_by_key(|(t, _)| *t);
    let scheduler = match next_item {
        Some((t, item)) => format!(
            "{} items ({} active); next: <b>{}</b> {} ({})",
            items.len(),
            items.iter().filter(|i| i.active).count(),
            esc(&item.job_name),
            relative(Some(t), now),
            esc(&rule(&item.schedule)),
        ),
        None => format!("{} items, none due.", items.len()),
    };
    let recent = d
        .processor
        .list_jobs(&JobQuery {
            limit: Some(10),
            ..JobQuery::default()
        })
        .await?;
    let kinds: String = d
        .processor
        .factories()
        .iter()
        .map(|f| format!("<option>{}</option>", esc(&f.name)))
        .collect();
    let body = format!(
        "<div class=\"cards\">{cards}</div>{remove}\
<h2>Workers</h2><p>This process: job worker {worker}, scheduler {sched}, {running} handlers running. \
{processing} jobs processing across all workers. <a href=\"/workers\">Details</a></p>\
<h2>Schedule</h2><p>{scheduler} <a href=\"/schedule\">Details</a></p>\
<h2>Add a job</h2><form method=\"post\" action=\"/jobs/add\"><select name=\"job_name\">{kinds}</select> \
<input name=\"input\" size=\"50\" placeholder='input as JSON, e.g. {{\"foo\": \"bar\"}}'> <button>Add</button></form>\
<h2>Newest jobs</h2>{recent}<p><a href=\"/jobs\">All jobs</a></p>",
        remove = remove_buttons(),
        worker = if d.processor.is_processing() { "running" } else { "off" },
        sched = if d.processor.is_scheduling() { "running" } else { "off" },
        running = d.processor.running_jobs().len(),
        processing = processing.len(),
        recent = jobs_rows(&recent),
    );
    Ok(Html(page("Overview", n.notice.as_deref(), &body)))
}

/// `GET /jobs`: the job list with status and name filters and paging.
pub async fn jobs(State(d): State<Dashboard>, Query(params): Query<ListParams>) -> PageResult {
    let request = params.request()?;
    let mut jobs = d.processor.list_jobs(&request.query).await?;
    let has_more = jobs.len() as u64 > request.per_page;
    jobs.truncate(request.per_page as usize);
    let status = params.status.clone().unwrap_or_default();
    let name = params.name.clone().unwrap_or_default();
    let mut options = String::from("<option value=\"\">any status</option>");
    for s in JobStatus::ALL {
        let selected = if status == s.as_str() {
            " selected"
        } else {
            ""
        };
        options.push_str(&format!("<option{selected}>{s}</option>"));
    }
    let order = params.order.clone().unwrap_or_default();
    let link = |page: u64| {
        format!(
            "/jobs?status={}&name={}&order={}&per_page={}&page={page}",
            url_value(&status),
            url_value(&name),
            url_value(&order),
            request.per_page
        )
    };
    let mut pager = format!("<p>Page {}", request.page);
    if request.page > 1 {
        pager.push_str(&format!(
            " · <a href=\"{}\">newer</a>",
            esc(&link(request.page - 1))
        ));
    }
    if has_more {
        pager.push_str(&format!(
            " · <a href=\"{}\">older</a>",
            esc(&link(request.page + 1))
        ));
    }
    pager.push_str("</p>");
    let oldest = if order == "oldest" { " selected" } else { "" };
    let body = format!(
        "<form method=\"get\" action=\"/jobs\"><select name=\"status\">{options}</select> \
<input name=\"name\" placeholder=\"job name\" value=\"{name}\"> \
<select name=\"order\"><option value=\"\">newest first</option><option value=\"oldest\"{oldest}>oldest first</option></select> \
<input name=\"per_page\" size=\"4\" value=\"{per_page}\"> per page <button>Filter</button></form>\
{rows}{pager}",
        name = esc(&name),
        per_page = request.per_page,
        rows = jobs_rows(&jobs),
    );
    Ok(Html(page("Jobs", None, &body)))
}

/// `GET /jobs/{id}`: every field, input, output, error records and the actions.
pub async fn job(
    State(d): State<Dashboard>,
    Path(id): Path<String>,
    Query(n): Query<Notice>,
) -> PageResult {
    let id = JobId::parse(&id)?;
    let job = d.processor.get_job(&id).await?;
    let errors = d.processor.job_errors(&id).await?;
    let field = |name: &str, value: String| format!("<tr><th>{name}</th><td>{value}</td></tr>");
    let fields = [
        field(
            "Id",
            format!("<span class=\"mono\" id=\"job-id\">{}</span>", job.id),
        ),
        field("Name", esc(&job.job_name)),
        field("Status", badge(job.status)),
        field(
            "Attempts",
            format!("{} of {}", job.retry_counter, job.max_retries),
        ),
        field(
            "Retry delay",
            esc(&humantime::format_duration(job.retry_delay).to_string()),
        ),
        field("Queued", time(Some(job.queued_at))),
        field("Not before", time(job.retry_time)),
        field("Picked", time(job.picked_at)),
        field("Finished", time(job.completed_at)),
        field("Lease until", time(job.lease_until)),
    ]
    .concat();
    let mut actions = String::new();
    if matches!(job.status, JobStatus::Queued | JobStatus::Processing) {
        actions.push_str(&button(
            &format!("/jobs/{id}/cancel"),
            "Cancel",
            Some("Cancel this job?"),
        ));
    }
    if matches!(job.status, JobStatus::Error | JobStatus::Cancelled) {
        actions.push_str(&button(
            &format!("/jobs/{id}/retry"),
            "Retry as a new job",
            None,
        ));
        actions.push_str(" <span class=\"muted\">adds a new job with the same name and input; this one stays as it is.</span>");
    }
    if job.status.is_final() {
        actions.push_str("<br><span class=\"muted\">Finished jobs are removed by status from the <a href=\"/\">overview</a>.</span>");
    }
    let output = match &job.output {
        Some(output) => format!("<h2>Output</h2><pre id=\"output\">{}</pre>", pretty(output)),
        None => String::new(),
    };
    let errors = if errors.is_empty() {
        "<p class=\"muted\">No error records.</p>".to_string()
    } else {
        let rows: String = errors
            .iter()
            .map(|e| {
                format!(
                    "<tr><td>{}</td><td>{}</td><td class=\"mono\">{}</td><td><pre>{}</pre></td></tr>",
                    e.attempt,
                    time(Some(e.created)),
                    e.id,
                    esc(&e.message)
                )
            })
            .collect();
        format!("<table><tr><th>Attempt</th><th>Created</th><th>Record</th><th>Message</th></tr>{rows}</table>")
    };
    let body = format!(
        "<p>{actions}</p><table>{fields}</table><h2>Input</h2><pre id=\"input\">{input}</pre>{output}\
<h2>Errors</h2>{errors}",
        input = pretty(&job.input),
    );
    Ok(Html(page(&format!("Job {id}"), n.notice.as_deref(), &body)))
}

/// Form of the "add a job" box.
#[derive(Debug, Deserialize)]
pub struct AddForm {
    job_name: String,
    #[serde(default)]
    input: String,
}

/// `POST /jobs/add`.
pub async fn add_job(
    State(d): State<Dashboard>,
    Form(form): Form<AddForm>,
) -> Result<Redirect, PageError> {
    let input = if form.input.trim().is_empty() {
        None
    } else {
        Some(serde_json::from_str(&form.input).map_err(|e| {
            PageError::new(
                axum::http::StatusCode::BAD_REQUEST,
                format!("input is not valid JSON: {e}"),
            )
        })?)
    };
    let id = d.processor.add_job(&form.job_name, input).await?;
    Ok(Redirect::to(&format!("/jobs/{id}")))
}

/// Form of the remove buttons: a status, or empty for every final one.
#[derive(Debug, Deserialize)]
pub struct RemoveForm {
    #[serde(default)]
    status: String,
}

/// `POST /jobs/remove`.
pub async fn remove_jobs(
    State(d): State<Dashboard>,
    Form(form): Form<RemoveForm>,
) -> Result<Redirect, PageError> {
    let statuses = form
        .status
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::parse::<JobStatus>)
        .collect::<Result<Vec<_>, _>>()?;
    let removed = d.processor.remove_jobs(&statuses).await?;
    let text: Vec<String> = removed.iter().map(|(s, n)| format!("{n} {s}")).collect();
    Ok(Redirect::to(&format!(
        "/?notice={}",
        url_value(&format!("Removed {}", text.join(", ")))
    )))
}

/// `POST /jobs/{id}/cancel`.
pub async fn cancel_job(
    State(d): State<Dashboard>,
    Path(id): Path<String>,
) -> Result<Redirect, PageError> {
    let id = JobId::parse(&id)?;
    let notice = match d.processor.cancel_job(&id).await? {
        remote_core::CancelOutcome::Cancelled { was } => format!("Cancelled (was {was})"),
        remote_core::CancelOutcome::Unchanged(status) => {
            format!("Not cancelled: the job is {status}")
        }
    };
    Ok(Redirect::to(&format!(
        "/jobs/{id}?notice={}",
        url_value(&notice)
    )))
}

/// `POST /jobs/{id}/retry`: a new job with the same name and input.
pub async fn retry_job(
    State(d): State<Dashboard>,
    Path(id): Path<String>,
) -> Result<Redirect, PageError> {
    let new = retry(&d, &id).await?;
    Ok(Redirect::to(&format!(
        "/jobs/{new}?notice={}",
        url_value(&format!("Added as a retry of job {id}"))
    )))
}

fn items_rows(items: &[SchedulerItem], now: chrono::DateTime<chrono::Utc>) -> String {
    if items.is_empty() {
        return "<p class=\"muted\">No scheduler items. Add one with <code>remote schedule add</code>.</p>".into();
    }
    let mut rows = String::new();
    for i in items {
        let toggle = if i.active {
            button(&format!("/schedule/{}/pause", i.id), "Pause", None)
        } else {
            button(&format!("/schedule/{}/resume", i.id), "Resume", None)
        };
        let remove = button(
            &format!("/schedule/{}/remove", i.id),
            "Remove",
            Some("Remove this item?"),
        );
        rows.push_str(&format!(
            "<tr><td class=\"mono\">{id}</td><td>{job}</td><td>{rule}</td><td>{state}</td>\
<td>{next} <span class=\"muted\">{rel}</span></td><td>{lock}</td><td class=\"mono\">{input}</td><td>{toggle} {remove}</td></tr>",
            id = i.id,
            job = esc(&i.job_name),
            rule = esc(&rule(&i.schedule)),
            state = if i.active { "active" } else { "paused" },
            next = time(i.next_call_time),
            rel = relative(i.next_call_time, now),
            lock = time(i.retry_time),
            input = excerpt(&i.input, 40),
        ));
    }
    format!(
        "<table><tr><th>Id</th><th>Job</th><th>Rule</th><th>State</th><th>Next call (UTC)</th>\
<th>Locked until</th><th>Input</th><th></th></tr>{rows}</table>"
    )
}

/// `GET /schedule`: scheduler items with their next call times and pause/resume.
pub async fn schedule(State(d): State<Dashboard>, Query(n): Query<Notice>) -> PageResult {
    let items = d.processor.scheduler_items().await?;
    let body = items_rows(&items, d.processor.now());
    Ok(Html(page("Schedule", n.notice.as_deref(), &body)))
}

async fn set_active(d: &Dashboard, id: &str, active: bool) -> Result<Redirect, PageError> {
    let id = ItemId::parse(id)?;
    let item = d.processor.set_scheduler_item_active(&id, active).await?;
    let notice = if active {
        format!("Resumed {id}; next call {}", time(item.next_call_time))
    } else {
        format!("Paused {id}")
    };
    Ok(Redirect::to(&format!(
        "/schedule?notice={}",
        url_value(&notice)
    )))
}

/// `POST /schedule/{id}/pause`.
pub async fn pause_item(
    State(d): State<Dashboard>,
    Path(id): Path<String>,
) -> Result<Redirect, PageError> {
    set_active(&d, &id, false).await
}

/// `POST /schedule/{id}/resume`.
pub async fn resume_item(
    State(d): State<Dashboard>,
    Path(id): Path<String>,
) -> Result<Redirect, PageError> {
    set_active(&d, &id, true).await
}

/// `POST /schedule/{id}/remove`.
pub async fn remove_item(
    State(d): State<Dashboard>,
    Path(id): Path<String>,
) -> Result<Redirect, PageError> {
    let id = ItemId::parse(&id)?;
    d.processor.remove_scheduler_item(&id).await?;
    Ok(Redirect::to(&format!(
        "/schedule?notice={}",
        url_value(&format!("Removed {id}"))
    )))
}

/// `GET /workers`: what this process runs, and every job processing in any process.
pub async fn workers(State(d): State<Dashboard>) -> PageResult {
    let processing = d
        .processor
        .list_jobs(&JobQuery {
            statuses: vec![JobStatus::Processing],
            oldest_first: true,
            ..JobQuery::default()
        })
        .await?;
    let running = d.processor.running_jobs();
    let worker = match (&d.process.worker, d.processor.is_processing()) {
        (Some(w), true) => format!(
            "running: <b>{}-worker</b>, {:?}, up to {} jobs at once, idle wait {}",
            esc(d.processor.name()),
            w.kind,
            if w.kind == remote_core::WorkerKind::Simple {
                1
            } else {
                w.max_threads
            },
            humantime::format_duration(w.wait_time)
        ),
        _ => "not running in this process".into(),
    };
    let scheduler = if d.processor.is_scheduling() {
        format!("running: <b>{}-scheduler</b>", esc(d.processor.name()))
    } else {
        "not running in this process".into()
    };
    let kinds: Vec<String> = d
        .processor
        .factories()
        .iter()
        .map(|f| esc(&f.name))
        .collect();
    let local: String = running
        .iter()
        .map(|id| format!("<li class=\"mono\"><a href=\"/jobs/{id}\">{id}</a></li>"))
        .collect();
    let now = d.processor.now();
    let rows: String = processing
        .iter()
        .map(|j| {
            format!(
                "<tr><td class=\"mono\"><a href=\"/jobs/{id}\">{id}</a></td><td>{name}</td><td>{attempt}</td>\
<td>{picked} <span class=\"muted\">{rel}</span></td><td>{lease}</td><td>{here}</td></tr>",
                id = j.id,
                name = esc(&j.job_name),
                attempt = j.retry_counter,
                picked = time(j.picked_at),
                rel = relative(j.picked_at, now),
                lease = time(j.lease_until),
                here = if running.contains(&j.id) { "this process" } else { "another process" },
            )
        })
        .collect();
    let body = format!(
        "<table><tr><th>Job worker</th><td>{worker}</td></tr><tr><th>Scheduler</th><td>{scheduler}</td></tr>\
<tr><th>Job kinds</th><td>{kinds}</td></tr><tr><th>Store</th><td class=\"mono\">{store}</td></tr></table>\
<h2>Handlers running in this process ({n})</h2><ul>{local}</ul>\
<h2>Processing in any process ({m})</h2>\
<table><tr><th>Job</th><th>Name</th><th>Attempt</th><th>Picked (UTC)</th><th>Lease until</th><th>Where</th></tr>{rows}</table>",
        kinds = kinds.join(", "),
        store = esc(&d.stores.display),
        n = running.len(),
        m = processing.len(),
    );
    Ok(Html(page("Workers", None, &body)))
}
