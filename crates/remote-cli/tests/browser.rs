//! A real browser: headless Chromium, driven over its DevTools protocol, uses the dashboard of
//! `remote serve` on an SQLite store: a job added through the command line shows, the charts
//! draw what the worker did and move without a reload, a search finds a job by its input, a
//! bulk cancel says how many jobs it touches and cancels them. Needs the Debian package
//! `chromium` (CI installs it). `REMOTE_SCREENSHOT=FILE` keeps a screenshot of the overview.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::cdp::Browser;
use common::{eventually, http_json, json, sqlite_store, Background};
use serde_json::{json, Value};

fn serve(store: &str) -> (Background, SocketAddr) {
    let mut serve = Background::start(
        store,
        &[
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--wait-time",
            "100ms",
            "--concurrency",
            "4",
        ],
    );
    let addr = serve.dashboard_addr();
    (serve, addr)
}

fn add(addr: SocketAddr, name: &str, input: Value) -> String {
    let (status, body) = http_json(
        addr,
        "POST",
        "/api/jobs",
        &json!({"job_name": name, "input": input}),
    );
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().expect("id").to_string()
}

fn status_of(addr: SocketAddr, id: &str) -> String {
    let (_, body) = http_json(addr, "GET", &format!("/api/jobs/{id}"), &Value::Null);
    body["job"]["status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn wait_status(addr: SocketAddr, id: &str, status: &str) {
    eventually(
        Duration::from_secs(60),
        &format!("job {id} {status}"),
        || (status_of(addr, id) == status).then_some(()),
    );
}

#[test]
fn dashboard_in_chromium_shows_a_job_added_by_the_cli() {
    let (_dir, store) = sqlite_store();
    let (_serve, addr) = serve(&store);
    let id = json(&store, &["add", "echo", r#"{"from": "the command line"}"#])["id"]
        .as_str()
        .expect("id")
        .to_string();
    let mut browser = Browser::start(1280, 900);
    browser.open(&format!("http://{addr}/jobs"));
    let list = browser.eval("document.querySelector('main').innerHTML");
    let list = list.as_str().unwrap_or_default();
    assert!(list.contains(&id), "job {id} not on /jobs:\n{list}");
    browser.open(&format!("http://{addr}/jobs/{id}"));
    assert_eq!(
        browser.eval("document.getElementById('job-id').textContent"),
        json!(id)
    );
    let input = browser.eval("document.getElementById('input').textContent");
    assert!(
        input
            .as_str()
            .is_some_and(|t| t.contains("the command line")),
        "{input}"
    );
}

/// The number a chart element carries in a data attribute (0 when it is missing).
fn data_number(browser: &mut Browser, selector: &str, attribute: &str) -> i64 {
    let script = format!(
        "(function(){{var e=document.querySelector({});return e?Number(e.getAttribute({})):0}})()",
        json!(selector),
        json!(attribute)
    );
    browser.eval(&script).as_i64().unwrap_or(0)
}

#[test]
fn charts_move_without_a_reload_search_finds_and_bulk_cancel_confirms() {
    let (_dir, store) = sqlite_store();
    let (_serve, addr) = serve(&store);
    for n in 0..5 {
        let id = add(addr, "echo", json!({"n": n}));
        wait_status(addr, &id, "completed");
    }
    let mut browser = Browser::start(1400, 1100);
    browser.open(&format!("http://{addr}/"));
    browser.wait_for("the charts' first data", || {
        "Number(document.getElementById('charts').dataset.updates) >= 1 && \
         document.querySelectorAll('#chart-rates polyline').length === 3"
            .into()
    });
    assert_eq!(
        data_number(&mut browser, "polyline.completed", "data-jobs"),
        5
    );
    assert_eq!(data_number(&mut browser, "polyline.failed", "data-jobs"), 0);
    let points = browser.eval(
        "document.querySelector('polyline.completed').getAttribute('points').split(' ').length",
    );
    assert_eq!(points, json!(60), "a point every 5 s over 5 minutes");
    let latency = browser.eval("document.querySelector('#lat-run td:last-child').textContent");
    assert_eq!(latency, json!("5"), "run times of 5 attempts");

    // what happens next reaches the open page without a reload
    browser.eval("window.sameDocument = 'yes'");
    let updates = data_number(&mut browser, "#charts", "data-updates");
    for n in 5..10 {
        add(addr, "echo", json!({"n": n}));
    }
    let failed = add(addr, "sleep", json!({"seconds": "never"}));
    wait_status(addr, &failed, "error");
    // this serve runs no exec jobs (no --allow-exec): they wait in the queue
    let waiting = [
        add(
            addr,
            "exec",
            json!({"program": "echo", "args": ["needle-one"]}),
        ),
        add(
            addr,
            "exec",
            json!({"program": "echo", "args": ["haystack"]}),
        ),
    ];
    browser.wait_for("10 completed and 1 failed in the chart", || {
        "document.querySelector('polyline.completed').getAttribute('data-jobs') === '10' && \
         document.querySelector('polyline.failed').getAttribute('data-jobs') === '1'"
            .into()
    });
    browser.wait_for("the queue depth of the waiting exec jobs", || {
        "(function(){var b=document.querySelector('#chart-depth rect.bar[data-name=\"exec\"]');\
          return !!b && b.getAttribute('data-queued') === '2'})()"
            .into()
    });
    browser.wait_for("the counts cards", || {
        "document.getElementById('count-completed').textContent === '10'".into()
    });
    assert_eq!(
        browser.eval("window.sameDocument"),
        json!("yes"),
        "the page was not reloaded"
    );
    assert!(data_number(&mut browser, "#charts", "data-updates") > updates);
    if let Ok(path) = std::env::var("REMOTE_SCREENSHOT") {
        browser.eval("window.scrollTo(0, 0)");
        std::fs::write(&path, browser.screenshot()).expect("write the screenshot");
    }
    let png = browser.screenshot();
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");

    // search by text in the input
    browser.open(&format!("http://{addr}/jobs"));
    browser.eval(
        "document.getElementById('search-q').value = 'NEEDLE'; document.getElementById('search-go').click()",
    );
    browser.wait_for("the search's results", || {
        "location.search.indexOf('q=NEEDLE') >= 0 && document.readyState === 'complete'".into()
    });
    let found: Vec<String> = browser
        .eval("Array.from(document.querySelectorAll('input.sel')).map(function(c){return c.value})")
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(String::from))
        .collect();
    assert_eq!(
        found,
        [waiting[0].clone()],
        "only the job whose input says needle"
    );

    // bulk cancel of a selection, confirmed with its count
    browser.open(&format!("http://{addr}/jobs?status=queued&name=exec"));
    browser.eval("document.getElementById('select-all').click()");
    assert_eq!(
        browser.eval("document.querySelectorAll('input.sel:checked').length"),
        json!(2)
    );
    browser.eval("document.getElementById('bulk-cancel').click()");
    browser.wait_for("the confirmation page", || {
        "!!document.getElementById('touches') && document.readyState === 'complete'".into()
    });
    assert_eq!(
        browser.eval("document.querySelector('h1').textContent"),
        json!("Cancel 2 jobs?")
    );
    assert_eq!(
        browser.eval("document.getElementById('changes').textContent"),
        json!("2")
    );
    for id in &waiting {
        assert_eq!(
            status_of(addr, id),
            "queued",
            "nothing changed before confirming"
        );
    }
    browser.eval("document.getElementById('confirm').click()");
    browser.wait_for("the list with what the action did", || {
        "!!document.querySelector('.notice') && document.readyState === 'complete'".into()
    });
    let notice = browser.eval("document.querySelector('.notice').textContent");
    assert_eq!(notice, json!("Cancelled 2 of 2 jobs"));
    for id in &waiting {
        assert_eq!(status_of(addr, id), "cancelled");
    }
}
