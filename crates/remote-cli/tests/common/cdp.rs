//! Headless Chromium driven over its DevTools protocol: open a page, run script in it, wait
//! for a condition, take a screenshot. Needs the Debian package `chromium` at
//! `/usr/bin/chromium`.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use super::{executable, http};

/// Where the browser is expected.
pub(crate) const CHROMIUM: &str = "/usr/bin/chromium";

/// A headless Chromium with one page, closed when dropped.
pub(crate) struct Browser {
    child: Child,
    socket: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts Chromium (window `width`×`height`) and attaches to a new blank page.
    pub(crate) fn start(width: u32, height: u32) -> Self {
        assert!(
            executable(Path::new(CHROMIUM)),
            "{CHROMIUM} is missing: install the Debian package `chromium` \
             (apt-get install -y chromium) to run the browser tests"
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
                "--hide-scrollbars",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--window-size={width},{height}"))
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chromium");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (found, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.split("DevTools listening on ").nth(1) {
                    let _ = found.send(url.trim().to_string());
                }
            }
        });
        let browser_url = match lines.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!("chromium did not open its DevTools port within 60 s");
            }
        };
        let addr: SocketAddr = browser_url
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected DevTools address {browser_url}"));
        let (status, response) = http(addr, "PUT", "/json/new?about:blank", &[]);
        assert_eq!(status, 200, "{response}");
        let target: Value = response
            .split_once("\r\n\r\n")
            .and_then(|(_, body)| serde_json::from_str(body).ok())
            .unwrap_or_else(|| panic!("no target in {response}"));
        let page_url = target["webSocketDebuggerUrl"]
            .as_str()
            .unwrap_or_else(|| panic!("no webSocketDebuggerUrl in {target}"))
            .to_string();
        let (socket, _) = tungstenite::connect(page_url.as_str()).expect("connect to the page");
        if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
            stream
                .set_read_timeout(Some(Duration::from_secs(60)))
                .expect("read timeout");
        }
        let mut browser = Self {
            child,
            socket,
            next_id: 0,
            _profile: profile,
        };
        browser.call("Page.enable", json!({}));
        browser.call("Runtime.enable", json!({}));
        browser
    }

    /// Sends a DevTools command and returns its result (events in between are skipped).
    pub(crate) fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let message = json!({"id": id, "method": method, "params": params}).to_string();
        self.socket
            .send(Message::text(message))
            .unwrap_or_else(|e| panic!("send {method}: {e}"));
        loop {
            let message = self
                .socket
                .read()
                .unwrap_or_else(|e| panic!("no answer to {method}: {e}"));
            let Message::Text(text) = message else {
                continue;
            };
            let value: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
            if value["id"] == id {
                assert!(
                    value.get("error").is_none(),
                    "{method} failed: {}",
                    value["error"]
                );
                return value["result"].clone();
            }
        }
    }

    /// Opens `url` and waits for the page to have loaded.
    pub(crate) fn open(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url}));
        let expected = url.to_string();
        self.wait_for(&format!("loading {url}"), || {
            format!(
                "document.readyState === 'complete' && location.href === {}",
                json!(expected)
            )
        });
    }

    /// The value of a script expression in the page (promises awaited).
    pub(crate) fn eval(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        );
        if let Some(e) = result.get("exceptionDetails") {
            panic!("script failed: {expression}\n{e}");
        }
        result["result"]["value"].clone()
    }

    /// Evaluates the expression `script()` gives every 100 ms until it is `true`, for at most
    /// 60 s; the panic names `what` and shows the page's text.
    pub(crate) fn wait_for(&mut self, what: &str, script: impl Fn() -> String) {
        let started = Instant::now();
        loop {
            let check = self.call(
                "Runtime.evaluate",
                json!({"expression": script(), "returnByValue": true}),
            );
            if check["result"]["value"] == true {
                return;
            }
            if started.elapsed() > Duration::from_secs(60) {
                let text = self.eval("document.body ? document.body.innerText : ''");
                panic!("timed out waiting for {what}; the page says:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A PNG of the page as it is shown.
    pub(crate) fn screenshot(&mut self) -> Vec<u8> {
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"}));
        let data = shot["data"].as_str().expect("screenshot data");
        base64_decode(data)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.socket.close(None);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Standard base64 (as DevTools sends screenshots) to bytes.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for v in text.bytes().filter_map(value) {
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}
