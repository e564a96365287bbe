//! Job factories: a named handler with the defaults of the jobs it runs.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::handler::Handler;
use crate::job::{millis, optional_millis, DEFAULT_MAX_ATTEMPTS, DEFAULT_RETRY_DELAY};
use crate::retention::Retention;
use crate::unique::Unique;

/// Default number of snoozes a job may take (R29).
pub const DEFAULT_MAX_SNOOZES: u32 = 100;

/// A named kind of job: name → handler, plus the defaults of its jobs (R1, R7).
#[derive(Clone)]
pub struct JobFactory {
    pub(crate) info: FactoryInfo,
    pub(crate) handler: Arc<dyn Handler>,
}

/// The data part of a factory, as listed by the processor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FactoryInfo {
    /// Job name.
    pub name: String,
    /// Input of jobs added without one.
    pub default_input: Value,
    /// Attempts each job gets in all.
    pub max_attempts: u32,
    /// Pause after a failed attempt.
    #[serde(with = "millis")]
    pub retry_delay: Duration,
    /// Priority of its jobs: higher runs first (R26). Default 0.
    pub priority: i16,
    /// Longest run of one attempt (R28); none by default.
    #[serde(with = "optional_millis")]
    pub timeout: Option<Duration>,
    /// How its jobs are kept unique (R27); not unique by default.
    pub unique: Option<Unique>,
    /// Snoozes a job may take before a further one fails it (R29). Default 100.
    pub max_snoozes: u32,
    /// How long its finished jobs are kept, when not the processor's (R33).
    pub retention: Option<Retention>,
}

impl JobFactory {
    /// A factory with the default input `null`, 3 attempts and 10 s between them.
    pub fn new(name: impl Into<String>, handler: impl Handler) -> Self {
        Self {
            info: FactoryInfo {
                name: name.into(),
                default_input: Value::Null,
                max_attempts: DEFAULT_MAX_ATTEMPTS,
                retry_delay: DEFAULT_RETRY_DELAY,
                priority: 0,
                timeout: None,
                unique: None,
                max_snoozes: DEFAULT_MAX_SNOOZES,
                retention: None,
            },
            handler: Arc::new(handler),
        }
    }

    /// Sets the input of jobs added without one.
    pub fn default_input(mut self, input: Value) -> Self {
        self.info.default_input = input;
        self
    }

    /// Sets the number of attempts in all, the first included (at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.info.max_attempts = attempts.max(1);
        self
    }

    /// Sets the pause after a failed attempt.
    pub fn retry_delay(mut self, delay: Duration) -> Self {
        self.info.retry_delay = delay;
        self
    }

    /// Sets the priority of its jobs: higher runs first (R26).
    pub fn priority(mut self, priority: i16) -> Self {
        self.info.priority = priority;
        self
    }

    /// Sets the longest run of one attempt (R28).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.info.timeout = Some(timeout);
        self
    }

    /// Keeps its jobs unique (R27).
    pub fn unique(mut self, unique: Unique) -> Self {
        self.info.unique = Some(unique);
        self
    }

    /// Sets how many snoozes a job may take (R29).
    pub fn max_snoozes(mut self, snoozes: u32) -> Self {
        self.info.max_snoozes = snoozes;
        self
    }

    /// Keeps its finished jobs for other times than the processor's (R33).
    pub fn retention(mut self, retention: Retention) -> Self {
        self.info.retention = Some(retention);
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
