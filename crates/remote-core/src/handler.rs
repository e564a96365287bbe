//! Job handlers: what a factory runs, the context it gets and the errors it returns.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::error::{error_chain, BoxError};
use crate::id::JobId;

/// What a handler knows about the attempt it runs.
#[derive(Clone, Debug)]
pub struct JobContext {
    /// The job.
    pub job_id: JobId,
    /// Its factory name.
    pub job_name: String,
    /// This attempt's number (1 for the first).
    pub attempt: u32,
    /// The job's input.
    pub input: Value,
    cancel: CancellationToken,
}

impl JobContext {
    /// A context for one attempt; `cancel` is triggered when the job is cancelled or lost.
    pub fn new(
        job_id: JobId,
        job_name: String,
        attempt: u32,
        input: Value,
        cancel: CancellationToken,
    ) -> Self {
        Self {
            job_id,
            job_name,
            attempt,
            input,
            cancel,
        }
    }

    /// True once the job was cancelled, its lease lost or the worker stopped past its grace.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Resolves when the attempt should stop (see [`JobContext::is_cancelled`]).
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await
    }

    /// The input deserialised into `T`; a mismatch is a permanent error.
    pub fn input_as<T: DeserializeOwned>(&self) -> Result<T, JobError> {
        serde_json::from_value(self.input.clone())
            .map_err(|e| JobError::permanent(format!("invalid input: {e}")))
    }
}

/// How an attempt that returned no output ends: a failure — permanent ones end the job at
/// once, others are retried (R3) — or a snooze (R29).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobError {
    message: String,
    kind: ErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ErrorKind {
    Retryable,
    Permanent,
    Snooze(Duration),
}

impl JobError {
    /// A failure that ends the job at once (m01.remote's `RemoteException`).
    pub fn permanent(error: impl Into<BoxError>) -> Self {
        Self {
            message: error_chain(error.into().as_ref()),
            kind: ErrorKind::Permanent,
        }
    }

    /// A failure that is retried while attempts remain.
    pub fn retryable(error: impl Into<BoxError>) -> Self {
        Self {
            message: error_chain(error.into().as_ref()),
            kind: ErrorKind::Retryable,
        }
    }

    /// "Not now, again after `delay`": the job goes back to the queue without using up an
    /// attempt and without an error record, up to the factory's `max_snoozes` times (R29).
    pub fn snooze(delay: Duration) -> Self {
        Self {
            message: format!("snoozed for {delay:?}"),
            kind: ErrorKind::Snooze(delay),
        }
    }

    /// True for a permanent failure.
    pub fn is_permanent(&self) -> bool {
        self.kind == ErrorKind::Permanent
    }

    /// The delay a snooze asked for; `None` for a failure.
    pub fn snoozed_for(&self) -> Option<Duration> {
        match self.kind {
            ErrorKind::Snooze(delay) => Some(delay),
            _ => None,
        }
    }

    /// The error text with its source chain.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for JobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Any error becomes a retryable failure, so `?` works in handlers.
impl<E: std::error::Error + Send + Sync + 'static> From<E> for JobError {
    fn from(error: E) -> Self {
        JobError::retryable(error)
    }
}

/// Marks a result's error as permanent: `do_it().permanent()?`.
pub trait ResultExt<T> {
    /// Turns the error into a permanent [`JobError`].
    fn permanent(self) -> Result<T, JobError>;
}

impl<T, E: Into<BoxError>> ResultExt<T> for Result<T, E> {
    fn permanent(self) -> Result<T, JobError> {
        self.map_err(JobError::permanent)
    }
}

/// What a factory runs for each attempt.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    /// Runs one attempt; returns the output or the failure.
    async fn run(&self, ctx: JobContext) -> Result<Value, JobError>;
}

fn to_output<O: Serialize>(output: O) -> Result<Value, JobError> {
    serde_json::to_value(output)
        .map_err(|e| JobError::permanent(format!("output is not JSON: {e}")))
}

/// A handler made from an async closure taking the context.
pub struct FnHandler<F>(F);

impl<F> std::fmt::Debug for FnHandler<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FnHandler")
    }
}

/// Wraps `async |ctx| -> Result<impl Serialize, JobError>` as a handler.
pub fn handler_fn<F, Fut, O>(f: F) -> FnHandler<F>
where
    F: Fn(JobContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, JobError>> + Send + 'static,
    O: Serialize + Send + 'static,
{
    FnHandler(f)
}

#[async_trait]
impl<F, Fut, O> Handler for FnHandler<F>
where
    F: Fn(JobContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, JobError>> + Send + 'static,
    O: Serialize + Send + 'static,
{
    async fn run(&self, ctx: JobContext) -> Result<Value, JobError> {
        to_output((self.0)(ctx).await?)
    }
}

/// A handler made from an async closure taking typed input.
pub struct TypedHandler<F, I>(F, PhantomData<fn(I)>);

impl<F, I> std::fmt::Debug for TypedHandler<F, I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("TypedHandler")
            .field(&std::any::type_name::<I>())
            .finish()
    }
}

/// Wraps `async |input: I, ctx| -> Result<impl Serialize, JobError>`; input that does not
/// deserialise into `I` fails the job permanently.
pub fn typed_fn<F, Fut, I, O>(f: F) -> TypedHandler<F, I>
where
    F: Fn(I, JobContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, JobError>> + Send + 'static,
    I: DeserializeOwned + Send + 'static,
    O: Serialize + Send + 'static,
{
    TypedHandler(f, PhantomData)
}

#[async_trait]
impl<F, Fut, I, O> Handler for TypedHandler<F, I>
where
    F: Fn(I, JobContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, JobError>> + Send + 'static,
    I: DeserializeOwned + Send + 'static,
    O: Serialize + Send + 'static,
{
    async fn run(&self, ctx: JobContext) -> Result<Value, JobError> {
        let input = ctx.input_as::<I>()?;
        to_output((self.0)(input, ctx).await?)
    }
}

/// A handler for CPU-heavy or blocking work, run on tokio's blocking threads (R12).
pub struct BlockingHandler<F>(Arc<F>);

impl<F> std::fmt::Debug for BlockingHandler<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlockingHandler")
    }
}

/// Wraps a blocking `|ctx| -> Result<impl Serialize, JobError>` so it never stalls the runtime.
pub fn blocking_fn<F, O>(f: F) -> BlockingHandler<F>
where
    F: Fn(JobContext) -> Result<O, JobError> + Send + Sync + 'static,
    O: Serialize + Send + 'static,
{
    BlockingHandler(Arc::new(f))
}

#[async_trait]
impl<F, O> Handler for BlockingHandler<F>
where
    F: Fn(JobContext) -> Result<O, JobError> + Send + Sync + 'static,
    O: Serialize + Send + 'static,
{
    async fn run(&self, ctx: JobContext) -> Result<Value, JobError> {
        let f = Arc::clone(&self.0);
        match tokio::task::spawn_blocking(move || f(ctx)).await {
            Ok(result) => to_output(result?),
            Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
            Err(join) => Err(JobError::retryable(join)),
        }
    }
}
