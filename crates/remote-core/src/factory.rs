//! Job factories: a named handler with the defaults of the jobs it runs.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::handler::Handler;
use crate::job::{millis, DEFAULT_MAX_RETRIES, DEFAULT_RETRY_DELAY};

/// A named kind of job: name → handler, plus the defaults of its jobs (R1, R7).
#[derive(Clone)]
pub struct JobFactory {
    pub(crate) info: FactoryInfo,
    pub(crate) handler: Arc<dyn Handler>,
}

/// The data part of a factory, as listed by the processor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FactoryInfo {
    /// Job name.
    pub name: String,
    /// Input of jobs added without one.
    pub default_input: Value,
    /// Attempts each job gets.
    pub max_retries: u32,
    /// Pause after a failed attempt.
    #[serde(with = "millis")]
    pub retry_delay: Duration,
}

impl JobFactory {
    /// A factory with the default input `null`, 3 attempts and 10 s between them.
    pub fn new(name: impl Into<String>, handler: impl Handler) -> Self {
        Self {
            info: FactoryInfo {
                name: name.into(),
                default_input: Value::Null,
                max_retries: DEFAULT_MAX_RETRIES,
                retry_delay: DEFAULT_RETRY_DELAY,
            },
            handler: Arc::new(handler),
        }
    }

    /// Sets the input of jobs added without one.
    pub fn default_input(mut self, input: Value) -> Self {
        self.info.default_input = input;
        self
    }

    /// Sets the number of attempts (at least 1).
    pub fn max_retries(mut self, attempts: u32) -> Self {
        self.info.max_retries = attempts.max(1);
        self
    }

    /// Sets the pause after a failed attempt.
    pub fn retry_delay(mut self, delay: Duration) -> Self {
        self.info.retry_delay = delay;
        self
    }

    /// The factory's name and defaults.
    pub fn info(&self) -> &FactoryInfo {
        &self.info
    }
}

impl std::fmt::Debug for JobFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("JobFactory").field(&self.info).finish()
    }
}
