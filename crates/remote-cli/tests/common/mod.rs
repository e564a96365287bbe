//! Helpers shared by the end-to-end tests: the binary, background processes, raw HTTP.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::Value;

/// The `remote` binary built for these tests.
pub fn binary() -> PathBuf {
    assert_cmd::cargo::cargo_bin("remote")
}

/// `remote --store <store>` with no store or token from the environment.
pub fn remote(store: &str) -> Command {
    let mut cmd = Command::new(binary());
    cmd.env_remove("REMOTE_STORE")
        .env_remove("REMOTE_TOKEN")
        .env("RUST_LOG", "warn")
        .args(["--store", store])
        .timeout(Duration::from_secs(60));
    cmd
}

/// A fresh SQLite store URL in a temporary directory (kept alive by the returned guard).
pub fn sqlite_store() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", dir.path().join("remote.db").display());
    (dir, url)
}

/// Runs `remote --store <store> --json <args>`, asserts exit 0 and parses stdout.
pub fn json(store: &str, args: &[&str]) -> Value {
    let out = remote(store)
        .arg("--json")
        .args(args)
        .output()
        .expect("run remote");
    assert!(
        out.status.success(),
        "remote {args:?} failed with {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "remote {args:?} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Runs `remote --store <store> <args>` and returns (exit code, stdout, stderr).
pub fn run(store: &str, args: &[&str]) -> (i32, String, String) {
    let out = remote(store).args(args).output().expect("run remote");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A process started in the background, killed when dropped.
pub struct Background {
    child: Child,
    stdout: Option<BufReader<std::process::ChildStdout>>,
    stderr_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Background {
    /// Starts `remote --store <store> <args>`; its stderr goes to a file shown on failures.
    pub fn start(store: &str, args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let stderr_path = dir.path().join("stderr.log");
        let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
        let child = StdCommand::new(binary())
            .env_remove("REMOTE_STORE")
            .env_remove("REMOTE_TOKEN")
            .env("RUST_LOG", "info")
            .args(["--store", store])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start remote");
        Self {
            child,
            stdout: None,
            stderr_path,
            _dir: dir,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Reads the `remote dashboard on http://ADDR/` line of a `serve` and returns ADDR.
    pub fn dashboard_addr(&mut self) -> SocketAddr {
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
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request to `addr`; returns (status, headers and body as text).
pub fn http(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
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
pub fn eventually<T>(limit: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
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
pub fn executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}
