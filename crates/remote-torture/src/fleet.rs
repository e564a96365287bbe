//! Child processes of a run: workers or schedulers started from this binary, killed with
//! SIGKILL and replaced, and the database restart command.
//!
//! Each child gets a pipe as its standard input and exits when it closes, so no child
//! outlives a coordinator that died. Its output goes to a log file of its own.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::Utc;
use rand::Rng;
use tokio::process::{Child, ChildStdin, Command};

use crate::checks::Outage;

#[derive(Debug)]
struct Member {
    tag: u32,
    child: Child,
    _stdin: Option<ChildStdin>,
}

/// A set of child processes running one subcommand of this binary.
#[derive(Debug)]
pub struct Fleet {
    exe: PathBuf,
    args: Vec<String>,
    log_dir: PathBuf,
    members: Vec<Member>,
    next_tag: u32,
    /// Processes started, replacements included.
    pub started: u64,
    /// Processes killed with SIGKILL by the run.
    pub killed: u64,
    /// Processes that exited without being told to (a crash is a failure of the run).
    pub died: u64,
}

impl Fleet {
    /// A fleet running `exe args… --tag N`, logging into `log_dir/<kind>-<N>.log`.
    pub fn new(exe: PathBuf, args: Vec<String>, log_dir: PathBuf) -> Self {
        Self {
            exe,
            args,
            log_dir,
            members: Vec::new(),
            next_tag: 1,
            started: 0,
            killed: 0,
            died: 0,
        }
    }

    /// Starts one more process; returns its pid.
    pub fn spawn(&mut self) -> Result<u32> {
        let tag = self.next_tag;
        self.next_tag += 1;
        let kind = self.args.first().cloned().unwrap_or_default();
        let log = self.log_dir.join(format!("{kind}-{tag}.log"));
        let out = std::fs::File::create(&log).with_context(|| format!("creating {log:?}"))?;
        let err = out.try_clone()?;
        let mut child = Command::new(&self.exe)
            .args(&self.args)
            .arg("--tag")
            .arg(tag.to_string())
            .stdin(Stdio::piped())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {:?}", self.exe))?;
        let pid = child.id().unwrap_or_default();
        let stdin = child.stdin.take();
        self.members.push(Member {
            tag,
            child,
            _stdin: stdin,
        });
        self.started += 1;
        Ok(pid)
    }

    /// Number of processes running.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// True when no process runs.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// SIGKILLs a random member and waits for it; returns its tag and pid.
    pub async fn kill_random(&mut self) -> Result<Option<(u32, u32)>> {
        if self.members.is_empty() {
            return Ok(None);
        }
        let index = rand::thread_rng().gen_range(0..self.members.len());
        let mut member = self.members.swap_remove(index);
        let pid = member.child.id().unwrap_or_default();
        member.child.start_kill().context("SIGKILL")?;
        member.child.wait().await?;
        self.killed += 1;
        Ok(Some((member.tag, pid)))
    }

    /// Forgets members that exited on their own and counts them; returns their tags.
    pub fn reap(&mut self) -> Vec<u32> {
        let mut gone = Vec::new();
        self.members.retain_mut(|m| match m.child.try_wait() {
            Ok(Some(_)) | Err(_) => {
                gone.push(m.tag);
                false
            }
            Ok(None) => true,
        });
        self.died += gone.len() as u64;
        gone
    }

    /// Asks every member to stop (SIGTERM), waits up to `grace`, then SIGKILLs the rest.
    pub async fn stop_all(&mut self, grace: Duration) {
        for member in &self.members {
            if let Some(pid) = member.child.id().and_then(|p| i32::try_from(p).ok()) {
                // SAFETY: kill(2) with a pid of a child this process started and has not reaped.
                unsafe {
                    libc::kill(pid, libc::SIGTERM);
                }
            }
        }
        let deadline = Instant::now() + grace;
        for member in &mut self.members {
            let left = deadline.saturating_duration_since(Instant::now());
            if tokio::time::timeout(left, member.child.wait())
                .await
                .is_err()
            {
                let _ = member.child.start_kill();
                let _ = member.child.wait().await;
            }
        }
        self.members.clear();
    }
}

/// Runs a shell command that stops and restarts the database; returns the outage it caused
/// (from the start of the command to its end) after checking that it succeeded.
pub async fn restart_database(command: &str) -> Result<Outage> {
    let from = Utc::now();
    let status = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .status()
        .await
        .with_context(|| format!("running {command:?}"))?;
    let to = Utc::now();
    anyhow::ensure!(status.success(), "{command:?} failed: {status}");
    Ok(Outage { from, to })
}
