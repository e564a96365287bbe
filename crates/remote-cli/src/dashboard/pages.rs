//! Server-rendered pages and the form actions behind their buttons.

use axum::extract::{Path, Query, State};
use axum::response::{Html, Redirect};
use axum::Form;
use remote_core::{ItemId, Job, JobId, JobQuery, JobStatus, SchedulerItem};
use serde::Deserialize;

use super::html::{badge, button, esc, excerpt, page, pretty, relative, time, url_value};
use super::{retry, statuses_of, Dashboard, ListParams, PageError};
use crate::output::rule;

/// A page or an error page.
type PageResult = Result<Html<String>, PageError>;

/// A notice shown after an action (`?notice=`).
#[derive(Debug, Default, Deserialize)]
pub(super) struct Notice {
    notice: Option<String>,
}

fn jobs_rows(jobs: &[Job]) -> String {
    jobs_table(jobs, false)
}

/// A job table; with `selectable`, a box per row for the bulk actions.
fn jobs_table(jobs: &[Job], selectable: bool) -> String {
    if jobs.is_empty() {
        return "<p class=\"muted\" id=\"no-jobs\">No jobs.</p>".into();
    }
    let mut rows = String::new();
    for j in jobs {
        let select = if selectable {
            format!(
                "<td><input type=\"checkbox\" class=\"sel\" name=\"id\" value=\"{}\"></td>",
                j.id
            )
        } else {
            String::new()
        };
        rows.push_str(&format!(
            "<tr>{select}<td class=\"mono\"><a href=\"/jobs/{id}\">{id}</a></td><td>{name}</td><td>{status}</td>\
<td>{priority}</td><td>{tries}/{max}</td><td>{queued}</td><td>{picked}</td><td>{done}</td><td class=\"mono\">{input}</td></tr>",
            id = j.id,
            name = esc(&j.job_name),
            status = badge(j.status),
            priority = j.priority,
            tries = j.attempt,
            max = j.max_attempts,
            queued = time(Some(j.queued_at)),
            picked = time(j.picked_at),
            done = time(j.completed_at),
            input = excerpt(&j.input, 60),
        ));
    }
    let select = if selectable { "<th></th>" } else { "" };
    format!(
        "<table class=\"jobs\"><tr>{select}<th>Id</th><th>Name</th><th>Status</th><th>Priority</th><th>Attempts</th><th>Queued (UTC)</th>\
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
    for (status, label) in [
        ("error", "Retry all in error"),
        ("cancelled", "Retry all cancelled"),
    ] {
        out.push_str(&format!(
            "<form class=\"inline\" method=\"post\" action=\"/jobs/retry\" onsubmit=\"return confirm('{label}?')\">\
<input type=\"hidden\" name=\"status\" value=\"{status}\"><button>{label}</button></form> "
        ));
    }
    out.push_str("</p>");
    out
}

/// The job names (registered here or paused in the store), each with Pause or Resume (R31).
fn names_section(d: &Dashboard, paused: &[remote_core::PausedName]) -> String {
    let mut names: Vec<String> = d
        .processor
        .factories()
        .into_iter()
        .map(|f| f.name)
        .collect();
    for p in paused {
        if !names.contains(&p.name) {
            names.push(p.name.clone());
        }
    }
    names.sort();
    let now = d.processor.now();
    let rows: String = names
        .iter()
        .map(|name| {
            let form = |action: &str, label: &str| {
                format!(
                    "<form class=\"inline\" method=\"post\" action=\"/names/{action}\">\
<input type=\"hidden\" name=\"name\" value=\"{n}\"><button>{label}</button></form>",
                    n = esc(name)
                )
            };
            match paused.iter().find(|p| &p.name == name) {
                Some(p) => format!(
                    "<tr class=\"paused-name\"><td>{n}</td><td>paused since {since} <span class=\"muted\">{rel}</span></td><td>{button}</td></tr>",
                    n = esc(name),
                    since = time(Some(p.since)),
                    rel = relative(Some(p.since), now),
                    button = form("resume", "Resume"),
                ),
                None => format!(
                    "<tr><td>{n}</td><td>claimed</td><td>{button}</td></tr>",
                    n = esc(name),
                    button = form("pause", "Pause"),
                ),
            }
        })
        .collect();
    format!(
        "<h2>Job names</h2><p class=\"muted\">A paused name is claimed by no worker of any process until it is resumed; running jobs finish.</p>\
<table id=\"names\"><tr><th>Name</th><th>State</th><th></th></tr>{rows}</table>"
    )
}

/// This process's retention and what the last pruning did (R33).
fn retention_section(d: &Dashboard, pruning: &serde_json::Value) -> String {
    let config = d.processor.config();
    let keep = |k: Option<std::time::Duration>| {
        k.map_or("forever".to_string(), |k| {
            humantime::format_duration(k).to_string()
        })
    };
    let last = if pruning.is_null() {
        "<span id=\"prune-last\">not run yet</span>".to_string()
    } else {
        let at = pruning["last_run"]
            .as_str()
            .and_then(|t| crate::cli::parse_time(t).ok());
        format!(
            "last run <span id=\"prune-last\">{}</span> <span class=\"muted\">{}</span>, took {} ms, removed <span id=\"prune-removed\">{}</span> <span class=\"muted\">(lease: {} until {})</span>",
            time(at),
            relative(at, d.processor.now()),
            esc(&pruning["took_ms"].to_string()),
            esc(&crate::commands::jobs::counts_text(&pruning["removed"])),
            esc(pruning["holder"].as_str().unwrap_or("?")),
            esc(pruning["until"].as_str().unwrap_or("?")),
        )
    };
    format!(
        "<h2>Retention</h2><p>Finished jobs are kept: completed {}, cancelled {}, error {}; \
workers prune every {}, one process at a time.</p><p>Pruning: {last} {button}</p>",
        keep(config.retention.completed),
        keep(config.retention.cancelled),
        keep(config.retention.error),
        humantime::format_duration(config.prune_interval),
        button = button(
            "/prune",
            "Prune now",
            Some("Remove the finished jobs older than their retention now?")
        ),
    )
}

/// `GET /`: counts by status, workers, scheduler summary, newest jobs, add and remove forms.
pub(super) async fn overview(State(d): State<Dashboard>, Query(n): Query<Notice>) -> PageResult {
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
    let paused = d.processor.paused_job_names().await?;
    let pruning = crate::commands::jobs::pruning_json(&d.processor.maintenance_leaders().await?);
    let body = format!(
        "<div class=\"cards\" id=\"live-cards\" data-live>{cards}</div>{remove}{charts}\
<p>Store: <b id=\"store-kind\">{store_kind}</b> <span class=\"mono\">{store}</span></p>\
<div id=\"live-summary\" data-live><h2>Workers</h2><p>This process: job worker {worker}, scheduler {sched}, {running} handlers running. \
{processing} jobs processing across all workers. <a href=\"/workers\">Details</a></p>\
<h2>Schedule</h2><p>{scheduler} <a href=\"/schedule\">Details</a></p></div>\
<h2>Add a job</h2><form method=\"post\" action=\"/jobs/add\"><select name=\"job_name\">{kinds}</select> \
<input name=\"input\" size=\"50\" placeholder='input as JSON, e.g. {{\"foo\": \"bar\"}}'> <button>Add</button></form>\
<h2>Newest jobs</h2><div id=\"live-recent\" data-live>{recent}</div><p><a href=\"/jobs\">All jobs</a></p>\
<div id=\"live-names\" data-live>{names}</div><div id=\"live-retention\" data-live>{retention}</div>",
        charts = super::charts::section(),
        remove = remove_buttons(),
        store_kind = d.stores.kind,
        store = esc(&d.stores.display),
        worker = if d.processor.is_processing() { "running" } else { "off" },
        sched = if d.processor.is_scheduling() { "running" } else { "off" },
        running = d.processor.running_jobs().len(),
        processing = processing.len(),
        recent = jobs_rows(&recent),
        names = names_section(&d, &paused),
        retention = retention_section(&d, &pruning),
    );
    Ok(Html(page("Overview", n.notice.as_deref(), &body)))
}

/// `GET /jobs`: the job list with status and name filters and paging.
pub(super) async fn jobs(
    State(d): State<Dashboard>,
    Query(params): Query<ListParams>,
    Query(n): Query<Notice>,
) -> PageResult {
    let request = params.request()?;
    let found = request.find(&d).await?;
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    let (status, name, order) = (
        value(&params.status),
        value(&params.name),
        value(&params.order),
    );
    let (q, from, to) = (value(&params.q), value(&params.from), value(&params.to));
    let mut options = String::from("<option value=\"\">any status</option>");
    for s in JobStatus::ALL {
        let selected = if status == s.as_str() {
            " selected"
        } else {
            ""
        };
        options.push_str(&format!("<option{selected}>{s}</option>"));
    }
    if !status.is_empty() && status.parse::<JobStatus>().is_err() {
        options.push_str(&format!("<option selected>{}</option>", esc(&status)));
    }
    let filters = format!(
        "status={}&name={}&q={}&from={}&to={}&order={}&per_page={}",
        url_value(&status),
        url_value(&name),
        url_value(&q),
        url_value(&from),
        url_value(&to),
        url_value(&order),
        request.per_page
    );
    let link = |page: u64| format!("/jobs?{filters}&page={page}");
    let mut pager = format!("<p>Page {}", request.page);
    if request.page > 1 {
        pager.push_str(&format!(
            " · <a href=\"{}\">newer</a>",
            esc(&link(request.page - 1))
        ));
    }
    if found.has_more {
        pager.push_str(&format!(
            " · <a href=\"{}\">older</a>",
            esc(&link(request.page + 1))
        ));
    }
    pager.push_str("</p>");
    let scanned = match found.scanned {
        Some(n) if found.truncated => format!(
            "<p class=\"muted\" id=\"scanned\">Searched the {n} jobs listed first (the limit of one search); narrow the filters to search further.</p>"
        ),
        Some(n) => format!("<p class=\"muted\" id=\"scanned\">Searched {n} jobs.</p>"),
        None => String::new(),
    };
    let oldest = if order == "oldest" { " selected" } else { "" };
    let back = format!("/jobs?{filters}&page={}", request.page);
    let bulk = if found.jobs.is_empty() {
        String::new()
    } else {
        format!(
            "<div class=\"bulk\"><input type=\"hidden\" name=\"back\" value=\"{back}\">\
<label><input type=\"checkbox\" id=\"select-all\"> all on this page</label> · selected: \
<button name=\"action\" value=\"cancel\" id=\"bulk-cancel\">Cancel</button>\
<button name=\"action\" value=\"retry\" id=\"bulk-retry\">Retry</button></div>",
            back = esc(&back)
        )
    };
    let remove = if request.search.is_plain() {
        format!(
            "<form method=\"post\" action=\"/jobs/bulk\" class=\"bulk\"><input type=\"hidden\" name=\"action\" value=\"remove\">\
<input type=\"hidden\" name=\"status\" value=\"{status}\"><input type=\"hidden\" name=\"name\" value=\"{name}\">\
<input type=\"hidden\" name=\"back\" value=\"{back}\"><button id=\"bulk-remove\">Remove every finished job matching these filters</button> \
<span class=\"muted\">(by status and name; a page to confirm says how many)</span></form>",
            status = esc(&status),
            name = esc(&name),
            back = esc(&back),
        )
    } else {
        String::new()
    };
    let body = format!(
        "<form class=\"search\" method=\"get\" action=\"/jobs\">\
<input name=\"q\" id=\"search-q\" size=\"28\" placeholder=\"job id or text in the input\" value=\"{q}\">\
<select name=\"status\">{options}</select>\
<input name=\"name\" placeholder=\"job name\" value=\"{name}\" size=\"12\">\
<label>queued from <input type=\"datetime-local\" name=\"from\" value=\"{from}\"></label>\
<label>to <input type=\"datetime-local\" name=\"to\" value=\"{to}\"></label> <span class=\"muted\">(UTC)</span>\
<select name=\"order\"><option value=\"\">newest first</option><option value=\"oldest\"{oldest}>oldest first</option></select>\
<input name=\"per_page\" size=\"4\" value=\"{per_page}\"> per page <button id=\"search-go\">Search</button></form>{scanned}\
<form method=\"post\" action=\"/jobs/bulk\" id=\"bulk\">{bulk}{rows}</form>{pager}{remove}",
        q = esc(&q),
        name = esc(&name),
        from = esc(&from),
        to = esc(&to),
        per_page = request.per_page,
        rows = jobs_table(&found.jobs, true),
    );
    Ok(Html(page("Jobs", n.notice.as_deref(), &body)))
}

/// `GET /jobs/{id}`: every field, input, output, error records and the actions.
pub(super) async fn job(
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
            "Priority",
            format!("<span id=\"priority\">{}</span>", job.priority),
        ),
        field(
            "Attempts",
            format!("{} of {}", job.attempt, job.max_attempts),
        ),
        field(
            "Retry delay",
            esc(&humantime::format_duration(job.retry_delay).to_string()),
        ),
        field(
            "Timeout",
            format!(
                "<span id=\"timeout\">{}</span>",
                job.timeout.map_or("none".to_string(), |t| {
                    humantime::format_duration(t).to_string()
                })
            ),
        ),
        field(
            "Unique key",
            match &job.unique_key {
                Some(key) => {
                    let across: Vec<&str> = job.unique_across.iter().map(|s| s.as_str()).collect();
                    format!(
                        "<span class=\"mono\" id=\"unique-key\">{}</span> <span class=\"muted\">held while {}</span>",
                        esc(key),
                        across.join(", ")
                    )
                }
                None => "none".into(),
            },
        ),
        field(
            "Snoozes",
            format!("<span id=\"snoozes\">{}</span>", job.snoozes),
        ),
        field("Queued", time(Some(job.queued_at))),
        field("Not before", time(job.not_before)),
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
        actions.push_str(&button(&format!("/jobs/{id}/retry"), "Retry", None));
        actions.push_str(" <span class=\"muted\">puts this job back in the queue with a fresh attempt budget; its error records stay.</span>");
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
pub(super) struct AddForm {
    job_name: String,
    #[serde(default)]
    input: String,
}

/// `POST /jobs/add`.
pub(super) async fn add_job(
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
    Ok(
        match crate::commands::jobs::add_through(
            &d.processor,
            &form.job_name,
            input,
            remote_core::JobOptions::new(),
        )
        .await?
        {
            crate::commands::jobs::Added::New(id) => Redirect::to(&format!("/jobs/{id}")),
            crate::commands::jobs::Added::Duplicate(id) => Redirect::to(&format!(
                "/jobs/{id}?notice={}",
                url_value("Not added: this job holds the same unique key")
            )),
        },
    )
}

/// Form of the remove buttons: a status, or empty for every final one.
#[derive(Debug, Deserialize)]
pub(super) struct RemoveForm {
    #[serde(default)]
    status: String,
}

/// `POST /jobs/remove`.
pub(super) async fn remove_jobs(
    State(d): State<Dashboard>,
    Form(form): Form<RemoveForm>,
) -> Result<Redirect, PageError> {
    let statuses = statuses_of(&form.status)?;
    let removed = d.processor.remove_jobs(&statuses).await?;
    let text: Vec<String> = removed.iter().map(|(s, n)| format!("{n} {s}")).collect();
    Ok(Redirect::to(&format!(
        "/?notice={}",
        url_value(&format!("Removed {}", text.join(", ")))
    )))
}

/// `POST /jobs/{id}/cancel`.
pub(super) async fn cancel_job(
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

/// `POST /jobs/{id}/retry`: the job back in the queue (R30).
pub(super) async fn retry_job(
    State(d): State<Dashboard>,
    Path(id): Path<String>,
) -> Result<Redirect, PageError> {
    let (id, was) = retry(&d, &id).await?;
    Ok(Redirect::to(&format!(
        "/jobs/{id}?notice={}",
        url_value(&format!("Queued again (was {was})"))
    )))
}

/// Form of the bulk retry buttons: statuses (empty: error and cancelled) and a name.
#[derive(Debug, Deserialize)]
pub(super) struct RetryForm {
    #[serde(default)]
    status: String,
    #[serde(default)]
    name: String,
}

/// `POST /jobs/retry`: every job with the statuses (of the name) back in the queue (R30).
pub(super) async fn retry_jobs(
    State(d): State<Dashboard>,
    Form(form): Form<RetryForm>,
) -> Result<Redirect, PageError> {
    let statuses = statuses_of(&form.status)?;
    let name = Some(form.name.trim()).filter(|n| !n.is_empty());
    let retried = d.processor.retry_jobs(&statuses, name).await?;
    let text: Vec<String> = retried.iter().map(|(s, n)| format!("{n} {s}")).collect();
    Ok(Redirect::to(&format!(
        "/?notice={}",
        url_value(&format!("Queued again: {}", text.join(", ")))
    )))
}

/// Form of the Pause and Resume buttons of a job name.
#[derive(Debug, Deserialize)]
pub(super) struct NameForm {
    name: String,
}

/// `POST /names/pause` (R31).
pub(super) async fn pause_name(
    State(d): State<Dashboard>,
    Form(form): Form<NameForm>,
) -> Result<Redirect, PageError> {
    d.processor.pause_job_name(&form.name).await?;
    Ok(Redirect::to(&format!(
        "/?notice={}",
        url_value(&format!("Paused '{}'", form.name))
    )))
}

/// `POST /names/resume` (R31).
pub(super) async fn resume_name(
    State(d): State<Dashboard>,
    Form(form): Form<NameForm>,
) -> Result<Redirect, PageError> {
    d.processor.resume_job_name(&form.name).await?;
    Ok(Redirect::to(&format!(
        "/?notice={}",
        url_value(&format!("Resumed '{}'", form.name))
    )))
}

/// `POST /prune`: prunes now with this process's retention (R33).
pub(super) async fn prune(State(d): State<Dashboard>) -> Result<Redirect, PageError> {
    let pruned = d.processor.prune_finished_jobs().await?;
    let text: Vec<String> = JobStatus::REMOVABLE
        .iter()
        .map(|s| format!("{} {s}", pruned.get(s).copied().unwrap_or(0)))
        .collect();
    Ok(Redirect::to(&format!(
        "/?notice={}",
        url_value(&format!("Pruned {}", text.join(", ")))
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
            "<tr><td class=\"mono\">{id}</td><td>{job}</td><td>{rule}</td><td>{state}</td><td>{misfire}</td>\
<td>{next} <span class=\"muted\">{rel}</span></td><td>{lock}</td><td class=\"mono\">{input}</td><td>{toggle} {remove}</td></tr>",
            id = i.id,
            job = esc(&i.job_name),
            rule = esc(&rule(&i.schedule)),
            state = if i.active { "active" } else { "paused" },
            misfire = esc(&i.misfire.to_string()),
            next = time(i.next_call_time),
            rel = relative(i.next_call_time, now),
            lock = time(i.locked_until),
            input = excerpt(&i.input, 40),
        ));
    }
    format!(
        "<table><tr><th>Id</th><th>Job</th><th>Rule</th><th>State</th><th>Misfire</th>\
<th>Next call (UTC)</th><th>Locked until</th><th>Input</th><th></th></tr>{rows}</table>"
    )
}

/// `GET /schedule`: scheduler items with their next call times and pause/resume.
pub(super) async fn schedule(State(d): State<Dashboard>, Query(n): Query<Notice>) -> PageResult {
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
pub(super) async fn pause_item(
    State(d): State<Dashboard>,
    Path(id): Path<String>,
) -> Result<Redirect, PageError> {
    set_active(&d, &id, false).await
}

/// `POST /schedule/{id}/resume`.
pub(super) async fn resume_item(
    State(d): State<Dashboard>,
    Path(id): Path<String>,
) -> Result<Redirect, PageError> {
    set_active(&d, &id, true).await
}

/// `POST /schedule/{id}/remove`.
pub(super) async fn remove_item(
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
pub(super) async fn workers(State(d): State<Dashboard>) -> PageResult {
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
            "running: <b>{}-worker</b>, {:?}, up to {} jobs at once, {} claimed ahead, idle wait {}",
            esc(d.processor.name()),
            w.kind,
            w.concurrency,
            claimed_ahead(w.prefetch, w.max_prefetch),
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
                attempt = j.attempt,
                picked = time(j.picked_at),
                rel = relative(j.picked_at, now),
                lease = time(j.lease_until),
                here = if running.contains(&j.id) { "this process" } else { "another process" },
            )
        })
        .collect();
    let body = format!(
        "<table><tr><th>Job worker</th><td>{worker}</td></tr><tr><th>Scheduler</th><td>{scheduler}</td></tr>\
<tr><th>Job kinds</th><td>{kinds}</td></tr><tr><th>Store</th><td>{store_kind} <span class=\"mono\">{store}</span></td></tr></table>\
<h2>Handlers running in this process ({n})</h2><ul>{local}</ul>\
<h2>Processing in any process ({m})</h2>\
<table><tr><th>Job</th><th>Name</th><th>Attempt</th><th>Picked (UTC)</th><th>Lease until</th><th>Where</th></tr>{rows}</table>",
        kinds = kinds.join(", "),
        store_kind = d.stores.kind,
        store = esc(&d.stores.display),
        n = running.len(),
        m = processing.len(),
    );
    Ok(Html(page("Workers", None, &body)))
}

/// A worker's prefetch in words: one number when fixed, else the range it adapts within.
fn claimed_ahead(prefetch: usize, max_prefetch: usize) -> String {
    if max_prefetch > prefetch {
        format!("{prefetch} to {max_prefetch}")
    } else {
        prefetch.to_string()
    }
}
