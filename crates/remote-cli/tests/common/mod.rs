//! Helpers shared by the end-to-end tests: the binary, background processes, raw HTTP.
#![allow(dead_code)]

pub(crate) mod cdp;
pub(crate) mod stores;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::Value;

/// The `remote` binary built for these tests.
pub(crate) fn binary() -> PathBuf {
    assert_cmd::cargo::cargo_bin("remote")
}

/// `remote --store <store>` with no store or token from the environment.
pub(crate) fn remote(store: &str) -> Command {
    let mut cmd = Command::new(binary());
    cmd.env_remove("REMOTE_STORE")
        .env_remove("REMOTE_TOKEN")
        .env("RUST_LOG", "warn")
        .args(["--store", store])
        .timeout(Duration::from_secs(60));
    cmd
}

/// A fresh SQLite store URL in a temporary directory (kept alive by the returned guard).
pub(crate) fn sqlite_store() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", dir.path().join("remote.db").display());
    (dir, url)
}

/// A finished `remote` command: what it was given, how it exited and what it printed.
#[derive(Debug)]
pub(crate) struct Ran {
    /// The command line, for failure messages.
    pub command: String,
    /// The exit code; `None` when a signal ended the process or it did not end in time.
    pub code: Option<i32>,
    /// What it printed on stdout.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
}

impl Ran {
    /// Asserts the exit code; on a mismatch the panic shows the command, its stdout and its
    /// stderr. Every exit-code assertion of these tests goes through here.
    #[track_caller]
    pub(crate) fn expect(self, code: i32) -> Self {
        if self.code != Some(code) {
            panic!("{}", self.report(&format!("expected exit code {code}")));
        }
        self
    }

    /// Stdout parsed as JSON; a panic showing stdout and stderr when it is not JSON.
    #[track_caller]
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("{}", self.report(&format!("stdout is not JSON ({e})"))))
    }

    /// The command, its exit code, stdout and stderr, under a headline.
    pub(crate) fn report(&self, headline: &str) -> String {
        let code = self.code.map_or_else(
            || "none (signal or time-out)".to_string(),
            |c| c.to_string(),
        );
        format!(
            "{headline}\n  command: {}\n  exit code: {code}\n  --- stdout ---\n{}\n  --- stderr ---\n{}",
            self.command, self.stdout, self.stderr
        )
    }
}

/// The command line of `remote --store <store> <args>` as the messages show it.
fn command_line(store: &str, args: &[&str]) -> String {
    format!("remote --store {store} {}", args.join(" "))
}

/// Runs `remote --store <store> <args>` to its end.
pub(crate) fn run(store: &str, args: &[&str]) -> Ran {
    let out = remote(store).args(args).output().expect("run remote");
    Ran {
        command: command_line(store, args),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `remote --store <store> <args>` and asserts its exit code (see [`Ran::expect`]).
#[track_caller]
pub(crate) fn exit(store: &str, args: &[&str], code: i32) -> Ran {
    run(store, args).expect(code)
}

/// Runs `remote --store <store> --json <args>`, asserts exit 0 and parses stdout.
#[track_caller]
pub(crate) fn json(store: &str, args: &[&str]) -> Value {
    let args: Vec<&str> = std::iter::once("--json")
        .chain(args.iter().copied())
        .collect();
    exit(store, &args, 0).json()
}

/// A process started in the background, killed when dropped.
pub(crate) struct Background {
    child: Child,
    command: String,
    stdout: Option<BufReader<std::process::ChildStdout>>,
    stderr_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Background {
    /// Starts `remote --store <store> <args>`; its stderr goes to a file shown on failures.
    pub(crate) fn start(store: &str, args: &[&str]) -> Self {
        Self::start_with_log(store, args, "info")
    }

    /// Like [`Background::start`] with this `RUST_LOG`.
    pub(crate) fn start_with_log(store: &str, args: &[&str], log: &str) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let stderr_path = dir.path().join("stderr.log");
        let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
        let child = StdCommand::new(binary())
            .env_remove("REMOTE_STORE")
            .env_remove("REMOTE_TOKEN")
            .env("RUST_LOG", log)
            .args(["--store", store])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start remote");
        Self {
            child,
            command: command_line(store, args),
            stdout: None,
            stderr_path,
            _dir: dir,
        }
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the process wrote to stderr so far.
    pub(crate) fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Reads the `remote dashboard on http://ADDR/` line of a `serve` and returns ADDR.
    pub(crate) fn dashboard_addr(&mut self) -> SocketAddr {
        let stdout = self.child.stdout.take().expect("stdout is piped");
        let reader = self.stdout.insert(BufReader::new(stdout));
        let mut line = String::new();
        let read = reader.read_line(&mut line).unwrap_or(0);
        assert!(
            read > 0,
            "serve printed no address; stderr:\n{}",
            self.stderr()
        );
        line.trim()
            .strip_prefix("remote dashboard on http://")
            .and_then(|rest| rest.strip_suffix('/'))
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}; stderr:\n{}", self.stderr()))
    }

    /// Waits for the process to exit by itself; returns its code.
    pub(crate) fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        self.wait_status(limit).and_then(|status| status.code())
    }

    /// Waits up to `limit` for the process to exit by itself and asserts its exit code (see
    /// [`Ran::expect`]): a mismatch or a process still running shows its stdout and stderr.
    #[track_caller]
    pub(crate) fn expect_exit(&mut self, limit: Duration, code: i32) -> Ran {
        let status = self.wait_status(limit);
        let stdout = match status {
            Some(_) => self.rest_of_stdout(),
            None => "(not read: the process is still running)".to_string(),
        };
        Ran {
            command: self.command.clone(),
            code: status.and_then(|s| s.code()),
            stdout,
            stderr: self.stderr(),
        }
        .expect(code)
    }

    fn wait_status(&mut self, limit: Duration) -> Option<ExitStatus> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// What the exited process wrote to stdout and nobody read yet.
    fn rest_of_stdout(&mut self) -> String {
        let mut rest = String::new();
        if let Some(reader) = self.stdout.as_mut() {
            let _ = reader.read_to_string(&mut rest);
        } else if let Some(stdout) = self.child.stdout.as_mut() {
            let _ = stdout.read_to_string(&mut rest);
        }
        rest
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request to `addr`; returns (status, headers and body as text).
pub(crate) fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n"
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, response)
}

/// Polls `check` every 100 ms until it returns `Some`, for at most `limit`.
pub(crate) fn eventually<T>(
    limit: Duration,
    what: &str,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// True when `path` exists and is executable.
pub(crate) fn executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

/// One HTTP/1.1 request with a JSON body; returns (status, body).
pub(crate) fn http_json(addr: SocketAddr, method: &str, path: &str, body: &Value) -> (u16, Value) {
    http_json_with(addr, method, path, &[], body)
}

/// One HTTP/1.1 request with extra headers and a JSON body; returns (status, body).
pub(crate) fn http_json_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> (u16, Value) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    let body = body.to_string();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(&body);
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let json = response
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str(body).ok())
        .unwrap_or(Value::Null);
    (status, json)
}
