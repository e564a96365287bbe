//! A real browser: headless Chromium loads the dashboard of `remote serve` and shows a job that
//! was added through the command line. Needs the Debian package `chromium` (CI installs it).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{executable, json, sqlite_store, Background};

const CHROMIUM: &str = "/usr/bin/chromium";

fn dump_dom(url: &str) -> String {
    assert!(
        executable(Path::new(CHROMIUM)),
        "{CHROMIUM} is missing: install the Debian package `chromium` \
         (apt-get install -y chromium) to run the browser test"
    );
    let profile = tempfile::tempdir().expect("profile directory");
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--dump-dom", url])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let started = std::time::Instant::now();
    while child.try_wait().ok().flatten().is_none() {
        if started.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            panic!("chromium did not finish loading {url} within 90 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("chromium output");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn dashboard_in_chromium_shows_a_job_added_by_the_cli() {
    let (_dir, store) = sqlite_store();
    let mut serve = Background::start(
        &store,
        &["serve", "--bind", "127.0.0.1:0", "--wait-time", "100ms"],
    );
    let addr = serve.dashboard_addr();
    let id = json(&store, &["add", "echo", r#"{"from": "the command line"}"#])["id"]
        .as_str()
        .expect("id")
        .to_string();

    let list = dump_dom(&format!("http://{addr}/jobs"));
    assert!(list.contains(&id), "job {id} not on /jobs:\n{list}");
    assert!(list.contains("<h1>Jobs</h1>"), "{list}");

    let detail = dump_dom(&format!("http://{addr}/jobs/{id}"));
    assert!(
        detail.contains(&format!("<span class=\"mono\" id=\"job-id\">{id}</span>")),
        "{detail}"
    );
    assert!(detail.contains("the command line"), "{detail}");
}
