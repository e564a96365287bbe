//! Built-in job kinds, so the command is useful without writing Rust: `echo`, `sleep`, `exec`.

use std::process::Stdio;
use std::time::Duration;

use remote_core::{handler_fn, JobContext, JobError, JobFactory};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::process::Command;

/// Most bytes of stdout and of stderr an `exec` job keeps (the rest is cut and marked).
pub const EXEC_OUTPUT_LIMIT: usize = 64 * 1024;
/// Timeout of an `exec` job whose input names none.
pub const EXEC_DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The built-in factories; `exec` only when `allow_exec`, since it runs programs.
pub fn builtin_factories(allow_exec: bool) -> Vec<JobFactory> {
    let mut factories = vec![echo(), sleep()];
    if allow_exec {
        factories.push(exec());
    }
    factories
}

/// `echo`: the output is the input.
pub fn echo() -> JobFactory {
    JobFactory::new(
        "echo",
        handler_fn(|ctx: JobContext| async move { Ok::<_, JobError>(ctx.input) }),
    )
}

/// Seconds to wait: a number, or `{"seconds": n}`.
fn sleep_seconds(input: &Value) -> Result<Duration, JobError> {
    let seconds = match input {
        Value::Number(n) => n.as_f64(),
        Value::Object(map) => map.get("seconds").and_then(Value::as_f64),
        _ => None,
    }
    .ok_or_else(|| {
        JobError::permanent(format!(
            "invalid input: sleep takes a number of seconds or {{\"seconds\": n}}, got {input}"
        ))
    })?;
    Duration::try_from_secs_f64(seconds)
        .map_err(|e| JobError::permanent(format!("invalid input: {seconds} seconds: {e}")))
}

/// `sleep`: waits `{"seconds": n}` (or a bare number), stopping early when cancelled.
pub fn sleep() -> JobFactory {
    JobFactory::new(
        "sleep",
        handler_fn(|ctx: JobContext| async move {
            let wait = sleep_seconds(&ctx.input)?;
            tokio::select! {
                () = tokio::time::sleep(wait) => Ok(json!({"slept": wait.as_secs_f64()})),
                () = ctx.cancelled() => Err(JobError::permanent("cancelled while sleeping")),
            }
        }),
    )
    .default_input(json!({"seconds": 1}))
}

/// A duration in JSON: seconds as a number, or text such as `"30s"` or `"5m"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Seconds {
    Number(f64),
    Text(String),
}

impl Seconds {
    fn duration(&self) -> Result<Duration, String> {
        match self {
            Seconds::Number(n) => Duration::try_from_secs_f64(*n).map_err(|e| format!("{n}: {e}")),
            Seconds::Text(t) => humantime::parse_duration(t).map_err(|e| format!("'{t}': {e}")),
        }
    }
}

/// Input of an `exec` job.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExecInput {
    program: String,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    timeout: Option<Seconds>,
    #[serde(default)]
    cwd: Option<String>,
    #[serde(default)]
    env: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    stdin: Option<String>,
}

/// Output of an `exec` job that exited with status 0.
#[derive(Debug, Clone, Serialize)]
struct ExecOutput {
    exit_code: i32,
    stdout: String,
    stderr: String,
}

fn captured(bytes: &[u8]) -> String {
    if bytes.len() <= EXEC_OUTPUT_LIMIT {
        String::from_utf8_lossy(bytes).into_owned()
    } else {
        let mut text = String::from_utf8_lossy(&bytes[..EXEC_OUTPUT_LIMIT]).into_owned();
        text.push_str(&format!(
            "\n[… {} more bytes cut]",
            bytes.len() - EXEC_OUTPUT_LIMIT
        ));
        text
    }
}

/// `exec`: runs `program` with `args` (no shell) under a timeout and captures exit code,
/// stdout and stderr. Exit 0 completes the job; another exit, a signal or the timeout is a
/// retryable failure whose message carries the captured output; a program that cannot be
/// started or malformed input fails permanently.
///
/// Input: `{"program": "ls", "args": ["-l"], "timeout": 30, "cwd": "/tmp", "env": {"K": "v"},
/// "stdin": "text"}`; only `program` is required, `timeout` defaults to 60 s.
pub fn exec() -> JobFactory {
    JobFactory::new("exec", handler_fn(run_exec))
}

async fn run_exec(ctx: JobContext) -> Result<ExecOutput, JobError> {
    let input: ExecInput = ctx.input_as()?;
    if input.program.is_empty() {
        return Err(JobError::permanent("invalid input: empty program"));
    }
    let timeout = match &input.timeout {
        Some(t) => t
            .duration()
            .map_err(|e| JobError::permanent(format!("invalid input: timeout {e}")))?,
        None => EXEC_DEFAULT_TIMEOUT,
    };
    let mut command = Command::new(&input.program);
    command
        .args(&input.args)
        .envs(&input.env)
        .stdin(if input.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(cwd) = &input.cwd {
        command.current_dir(cwd);
    }
    let mut child = command.spawn().map_err(|e| {
        JobError::permanent(format!("cannot start program '{}': {e}", input.program))
    })?;
    if let (Some(text), Some(mut pipe)) = (input.stdin, child.stdin.take()) {
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let _ = pipe.write_all(text.as_bytes()).await;
        });
    }
    let output = tokio::select! {
        result = tokio::time::timeout(timeout, child.wait_with_output()) => match result {
            Ok(Ok(output)) => output,
            Ok(Err(e)) => return Err(JobError::retryable(format!("waiting for '{}': {e}", input.program))),
            Err(_) => {
                return Err(JobError::retryable(format!(
                    "'{}' timed out after {} and was killed",
                    input.program,
                    humantime::format_duration(timeout)
                )))
            }
        },
        () = ctx.cancelled() => {
            return Err(JobError::permanent(format!("'{}' killed: the job was cancelled", input.program)))
        }
    };
    let stdout = captured(&output.stdout);
    let stderr = captured(&output.stderr);
    match output.status.code() {
        Some(0) => Ok(ExecOutput {
            exit_code: 0,
            stdout,
            stderr,
        }),
        code => {
            let how = match code {
                Some(code) => format!("exited with code {code}"),
                None => "was killed by a signal".to_string(),
            };
            Err(JobError::retryable(format!(
                "'{}' {how}\nstdout: {stdout}\nstderr: {stderr}",
                input.program
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use remote_core::JobId;
    use tokio_util::sync::CancellationToken;

    fn ctx(input: Value) -> JobContext {
        JobContext::new(
            JobId::new(),
            "exec".into(),
            1,
            input,
            CancellationToken::new(),
        )
    }

    #[tokio::test]
    async fn exec_captures_output_and_exit_codes() {
        let ok = run_exec(ctx(
            json!({"program": "sh", "args": ["-c", "echo out; echo err >&2"]}),
        ))
        .await
        .map_err(|e| e.to_string());
        let ok = ok
            .as_ref()
            .map(|o| (o.exit_code, o.stdout.as_str(), o.stderr.as_str()));
        assert_eq!(ok, Ok((0, "out\n", "err\n")));

        let failed = run_exec(ctx(
            json!({"program": "sh", "args": ["-c", "echo bad >&2; exit 3"]}),
        ))
        .await
        .err();
        let failed = failed.map(|e| (e.is_permanent(), e.message().to_string()));
        assert!(
            matches!(&failed, Some((false, m)) if m.contains("code 3") && m.contains("bad")),
            "{failed:?}"
        );

        let missing = run_exec(ctx(json!({"program": "/nonexistent/program"})))
            .await
            .err();
        assert!(missing.is_some_and(|e| e.is_permanent()));

        let bad = run_exec(ctx(json!({"args": []}))).await.err();
        assert!(bad.is_some_and(|e| e.is_permanent()));
    }

    #[tokio::test]
    async fn exec_kills_on_timeout() {
        let started = std::time::Instant::now();
        let err = run_exec(ctx(
            json!({"program": "sleep", "args": ["10"], "timeout": "200ms"}),
        ))
        .await
        .err();
        assert!(err.is_some_and(|e| !e.is_permanent() && e.message().contains("timed out")));
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn sleep_input_forms() {
        assert_eq!(
            sleep_seconds(&json!(1.5)).ok(),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            sleep_seconds(&json!({"seconds": 2})).ok(),
            Some(Duration::from_secs(2))
        );
        for bad in [
            json!("soon"),
            json!(-1),
            json!({"seconds": "x"}),
            Value::Null,
        ] {
            assert!(
                sleep_seconds(&bad).is_err_and(|e| e.is_permanent()),
                "{bad}"
            );
        }
    }
}
