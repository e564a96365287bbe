//! The final checks of a run, as pure functions over what the store and the execution log hold.
//!
//! Words used below: an *attempt* is one claim of a job (attempt `n` is the claim that set
//! `attempt = n`); an *execution* is one run of the handler, recorded by the handler itself as
//! `(job, attempt, pid)` before it does anything else; an *outcome* is what the store kept for
//! an attempt: an error record carrying its attempt number, or the completion (the output names
//! the attempt and pid that produced it). A *recovery* is an error record saying "worker lost":
//! the attempt's lease expired and another processor failed it (R8).
//!
//! A worker claims jobs ahead of its free slots and holds them (R24). A held job whose worker
//! is killed is recovered like a running one, but its handler never ran: that recovery has no
//! execution, adds no duplicate and is counted apart ("recovered before execution"). A held job
//! handed back by a graceful stop was never an attempt (R23): its attempt number is claimed
//! again, and executed once.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use chrono::{DateTime, TimeDelta, Utc};
use remote_core::{ErrorRecord, Job, JobStatus, Schedule};

/// One run of the handler, as the handler recorded it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Execution {
    /// The job's id (24 hex digits).
    pub job_id: String,
    /// The attempt number the handler was given.
    pub attempt: u32,
    /// The worker process that ran it.
    pub pid: u32,
}

/// A job as it ended, with its error records.
#[derive(Clone, Debug)]
pub struct Ended {
    /// The job as stored.
    pub job: Job,
    /// Its error records, oldest first.
    pub errors: Vec<ErrorRecord>,
}

/// True for the error record of a recovered attempt (R8).
pub fn is_recovery(record: &ErrorRecord) -> bool {
    record.message.starts_with("worker lost")
}

/// What the jobs run found; every field named as a violation must be 0.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobFigures {
    /// Jobs enqueued by the run.
    pub enqueued: u64,
    /// Violation: enqueued jobs the store no longer has.
    pub lost: u64,
    /// Violation: jobs whose final status is not `completed`.
    pub not_completed: u64,
    /// Violation: attempts with more than one outcome (two error records, or an error record
    /// and the completion, for the same attempt number).
    pub two_outcomes: u64,
    /// Violation: attempts of a completed job with no outcome at all.
    pub no_outcome: u64,
    /// Violation: a completion whose output does not name the last attempt, or names an
    /// attempt and pid that has no recorded execution.
    pub completions_without_execution: u64,
    /// Violation: attempts whose handler ran more than once (one claim handed out twice, R2/R9).
    pub attempts_executed_twice: u64,
    /// Violation: executions of a job beyond one plus its failed attempts (recovered or not).
    pub executions_beyond_allowed: u64,
    /// Violation: executions recorded for a job the run did not enqueue.
    pub executions_of_unknown_jobs: u64,
    /// Handler runs recorded.
    pub executions: u64,
    /// Executions beyond the first of each job: the at-least-once duplicates.
    pub duplicate_executions: u64,
    /// Error records saying the worker was lost.
    pub recoveries: u64,
    /// Jobs with at least one recovery.
    pub jobs_recovered: u64,
    /// Recovered attempts whose handler had started (it ran, then its worker died or its
    /// lease lapsed): the source of duplicates.
    pub recovered_after_execution: u64,
    /// Recovered attempts whose handler never started: jobs claimed ahead and held, or
    /// dispatched but not yet recorded, when their worker died. No duplicate comes of them.
    pub recovered_before_execution: u64,
    /// Error records that are not recoveries (the torture handler does not fail by itself).
    pub other_failures: u64,
    /// Most attempts one job took.
    pub max_attempts: u32,
}

impl JobFigures {
    /// Sum of every violation counter.
    pub fn violations(&self) -> u64 {
        self.lost
            + self.not_completed
            + self.two_outcomes
            + self.no_outcome
            + self.completions_without_execution
            + self.attempts_executed_twice
            + self.executions_beyond_allowed
            + self.executions_of_unknown_jobs
    }

    /// The figures as aligned lines, violations first.
    pub fn report(&self) -> String {
        let rows: [(&str, u64); 17] = [
            ("jobs enqueued", self.enqueued),
            ("jobs lost", self.lost),
            ("jobs not completed", self.not_completed),
            ("attempts with two outcomes", self.two_outcomes),
            ("attempts without outcome", self.no_outcome),
            (
                "completions without execution",
                self.completions_without_execution,
            ),
            ("attempts executed twice", self.attempts_executed_twice),
            (
                "executions beyond 1 + recovered",
                self.executions_beyond_allowed,
            ),
            (
                "executions of unknown jobs",
                self.executions_of_unknown_jobs,
            ),
            ("executions", self.executions),
            ("duplicate executions", self.duplicate_executions),
            ("recoveries (worker lost)", self.recoveries),
            ("jobs recovered", self.jobs_recovered),
            ("recovered after execution", self.recovered_after_execution),
            (
                "recovered before execution",
                self.recovered_before_execution,
            ),
            ("other failures", self.other_failures),
            ("most attempts of one job", u64::from(self.max_attempts)),
        ];
        let mut out = String::new();
        for (name, value) in rows {
            let _ = writeln!(out, "  {name:<34} {value}");
        }
        out
    }
}

/// Checks the end state of a jobs run: `enqueued` ids, the `stored` jobs by id, and every
/// recorded execution.
pub fn check_jobs(
    enqueued: &[String],
    stored: &HashMap<String, Ended>,
    executions: &[Execution],
) -> JobFigures {
    let mut figures = JobFigures {
        enqueued: enqueued.len() as u64,
        executions: executions.len() as u64,
        ..Default::default()
    };
    let mut runs: HashMap<&str, BTreeMap<u32, Vec<u32>>> = HashMap::new();
    for e in executions {
        runs.entry(e.job_id.as_str())
            .or_default()
            .entry(e.attempt)
            .or_default()
            .push(e.pid);
    }
    for (job_id, attempts) in &runs {
        if !stored.contains_key(*job_id) {
            figures.executions_of_unknown_jobs +=
                attempts.values().map(|p| p.len() as u64).sum::<u64>();
        }
    }
    let none = BTreeMap::new();
    for id in enqueued {
        let Some(ended) = stored.get(id) else {
            figures.lost += 1;
            continue;
        };
        let job = &ended.job;
        let attempts = runs.get(id.as_str()).unwrap_or(&none);
        let executed: u64 = attempts.values().map(|p| p.len() as u64).sum();
        figures.duplicate_executions += executed.saturating_sub(1);
        figures.attempts_executed_twice +=
            attempts.values().filter(|pids| pids.len() > 1).count() as u64;
        figures.max_attempts = figures.max_attempts.max(job.attempt);

        let recoveries = ended.errors.iter().filter(|r| is_recovery(r)).count() as u64;
        figures.recoveries += recoveries;
        figures.jobs_recovered += u64::from(recoveries > 0);
        figures.other_failures += ended.errors.len() as u64 - recoveries;
        let after = ended
            .errors
            .iter()
            .filter(|r| is_recovery(r) && attempts.contains_key(&r.attempt))
            .count() as u64;
        figures.recovered_after_execution += after;
        figures.recovered_before_execution += recoveries - after;
        let allowed = 1 + ended.errors.len() as u64;
        figures.executions_beyond_allowed += executed.saturating_sub(allowed);

        let mut outcomes: BTreeMap<u32, u32> = BTreeMap::new();
        for record in &ended.errors {
            *outcomes.entry(record.attempt).or_default() += 1;
        }
        if job.status != JobStatus::Completed {
            figures.not_completed += 1;
        } else {
            let output = job.output.as_ref();
            let attempt = output
                .and_then(|o| o.get("attempt"))
                .and_then(|a| a.as_u64())
                .and_then(|a| u32::try_from(a).ok());
            let pid = output
                .and_then(|o| o.get("pid"))
                .and_then(|p| p.as_u64())
                .and_then(|p| u32::try_from(p).ok());
            match (attempt, pid) {
                (Some(attempt), Some(pid))
                    if attempt == job.attempt
                        && attempts.get(&attempt).is_some_and(|p| p.contains(&pid)) =>
                {
                    *outcomes.entry(attempt).or_default() += 1;
                }
                _ => figures.completions_without_execution += 1,
            }
            figures.no_outcome += (1..=job.attempt)
                .filter(|n| !outcomes.contains_key(n))
                .count() as u64;
        }
        figures.two_outcomes += outcomes.values().filter(|n| **n > 1).count() as u64;
    }
    figures
}

/// A time span when the store could not be used: from the database's stop to the moment
/// the clients were served again (the restart returning, or later while they reconnect).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outage {
    /// When the stop began.
    pub from: DateTime<Utc>,
    /// When the database answered again.
    pub to: DateTime<Utc>,
}

impl Outage {
    /// How much of the outage lies in `[from, to]`.
    fn overlap(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta {
        let start = self.from.max(from);
        let end = self.to.min(to);
        (end - start).max(TimeDelta::zero())
    }
}

/// One scheduler item of a run: its rule, and its first next call time as stored at creation.
#[derive(Clone, Debug)]
pub struct PlannedItem {
    /// The item's id.
    pub id: String,
    /// Its rule.
    pub schedule: Schedule,
    /// Its `next_call_time` right after it was added.
    pub first: DateTime<Utc>,
}

/// What the scheduler run found; `missed`, `doubled`, `late`, `early` and `stray` must be 0.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SchedulerFigures {
    /// Items raced over.
    pub items: u64,
    /// Occurrences due within the checked window.
    pub occurrences: u64,
    /// Jobs the items added.
    pub jobs: u64,
    /// Violation: occurrences with no job.
    pub missed: u64,
    /// Violation: occurrences with more than one job.
    pub doubled: u64,
    /// Violation: jobs added later than the allowed slack after their occurrence.
    pub late: u64,
    /// Violation: jobs added before the item's first occurrence.
    pub early: u64,
    /// Violation: jobs of no planned item.
    pub stray: u64,
    /// Largest delay from an occurrence to its job, in milliseconds.
    pub max_delay_ms: i64,
}

impl SchedulerFigures {
    /// Sum of every violation counter.
    pub fn violations(&self) -> u64 {
        self.missed + self.doubled + self.late + self.early + self.stray
    }

    /// The figures as aligned lines.
    pub fn report(&self) -> String {
        let rows: [(&str, i64); 9] = [
            ("scheduler items", self.items as i64),
            ("occurrences checked", self.occurrences as i64),
            ("jobs added", self.jobs as i64),
            ("occurrences missed", self.missed as i64),
            ("occurrences with two jobs", self.doubled as i64),
            ("jobs later than the slack", self.late as i64),
            ("jobs before the first occurrence", self.early as i64),
            ("jobs of no item", self.stray as i64),
            ("largest firing delay (ms)", self.max_delay_ms),
        ];
        let mut out = String::new();
        for (name, value) in rows {
            let _ = writeln!(out, "  {name:<34} {value}");
        }
        out
    }
}

/// Checks the jobs added by racing schedulers.
///
/// `fired` maps an item id to the `queued_at` of each job it added. Occurrences due at or
/// before `end - slack` are checked. A job may come up to `slack` after its occurrence, plus
/// the part of any outage that lies in between. Cron and crontab items have fixed
/// occurrences (walked with the rule's own `next_after`); a Delay item's next occurrence is
/// `delay` after its previous firing, so a gap shorter than half the delay is a doubled
/// occurrence and a gap longer than `delay + slack` (plus outage) a missed or late one.
pub fn check_scheduler(
    items: &[PlannedItem],
    fired: &HashMap<String, Vec<DateTime<Utc>>>,
    end: DateTime<Utc>,
    slack: TimeDelta,
    outages: &[Outage],
) -> SchedulerFigures {
    let mut figures = SchedulerFigures {
        items: items.len() as u64,
        jobs: fired.values().map(|v| v.len() as u64).sum(),
        ..Default::default()
    };
    let allowed = |from: DateTime<Utc>, to: DateTime<Utc>| {
        slack
            + outages
                .iter()
                .map(|o| o.overlap(from, to))
                .fold(TimeDelta::zero(), |a, b| a + b)
    };
    let horizon = end - slack;
    for (id, _) in fired
        .iter()
        .filter(|(id, _)| !items.iter().any(|i| &i.id == *id))
    {
        figures.stray += fired.get(id).map_or(0, |v| v.len() as u64);
    }
    for item in items {
        let mut times = fired.get(&item.id).cloned().unwrap_or_default();
        times.sort();
        figures.early += times.iter().filter(|t| **t < item.first).count() as u64;
        times.retain(|t| *t >= item.first);
        match item.schedule {
            Schedule::Delay { delay } => {
                let delay = TimeDelta::seconds(i64::try_from(delay).unwrap_or(i64::MAX / 1000));
                let mut due = item.first;
                for t in &times {
                    if *t < due - delay / 2 {
                        figures.doubled += 1;
                        continue;
                    }
                    figures.occurrences += 1;
                    let delay_to_job = (*t - due).max(TimeDelta::zero());
                    figures.max_delay_ms =
                        figures.max_delay_ms.max(delay_to_job.num_milliseconds());
                    if delay_to_job > allowed(due, *t) {
                        figures.late += 1;
                    }
                    due = *t + delay;
                }
                if due <= horizon && end - due > allowed(due, end) {
                    figures.occurrences += 1;
                    figures.missed += 1;
                }
            }
            _ => {
                let mut occurrence = Some(item.first);
                let mut index = 0;
                while let Some(o) = occurrence.filter(|o| *o <= horizon) {
                    let next = item.schedule.next_after(o);
                    let until = next.unwrap_or(end);
                    let mut count = 0;
                    while index < times.len() && times[index] < until {
                        let delay_to_job = times[index] - o;
                        figures.max_delay_ms =
                            figures.max_delay_ms.max(delay_to_job.num_milliseconds());
                        if delay_to_job > allowed(o, times[index]) {
                            figures.late += 1;
                        }
                        count += 1;
                        index += 1;
                    }
                    figures.occurrences += 1;
                    match count {
                        0 => figures.missed += 1,
                        1 => {}
                        _ => figures.doubled += 1,
                    }
                    occurrence = next;
                }
            }
        }
    }
    figures
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use remote_core::{CronLists, JobId};
    use serde_json::json;

    use super::*;

    fn t(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).expect("time")
    }

    fn completed(id: &str, attempt: u32, pid: u32, errors: &[(u32, &str)]) -> Ended {
        let mut job = Job::queued("torture", json!({}), 100, Duration::ZERO, t(0));
        job.id = JobId::parse(id).expect("id");
        job.status = JobStatus::Completed;
        job.attempt = attempt;
        job.output = Some(json!({"attempt": attempt, "pid": pid}));
        let errors = errors
            .iter()
            .map(|(a, m)| ErrorRecord::new(*a, *m, t(1)))
            .collect();
        Ended { job, errors }
    }

    fn run(job: &str, attempt: u32, pid: u32) -> Execution {
        Execution {
            job_id: job.into(),
            attempt,
            pid,
        }
    }

    const A: &str = "0000000000000000000000aa";
    const B: &str = "0000000000000000000000bb";

    #[test]
    fn a_clean_run_with_a_recovery_has_no_violation() {
        let stored = HashMap::from([
            (A.to_string(), completed(A, 1, 10, &[])),
            (
                B.to_string(),
                completed(
                    B,
                    2,
                    11,
                    &[(1, "worker lost: the lease of attempt 1 expired")],
                ),
            ),
        ]);
        let runs = [run(A, 1, 10), run(B, 1, 10), run(B, 2, 11)];
        let f = check_jobs(&[A.into(), B.into()], &stored, &runs);
        assert_eq!(f.violations(), 0, "{f:?}");
        assert_eq!(
            (f.recoveries, f.jobs_recovered, f.duplicate_executions),
            (1, 1, 1)
        );
        assert_eq!(f.recovered_after_execution, 1);
        assert_eq!(f.recovered_before_execution, 0);
    }

    #[test]
    fn held_jobs_recovered_or_released_are_no_duplicates() {
        // A: claimed ahead as attempt 1 by a worker killed before it started it; recovered,
        // then run as attempt 2. B: claimed ahead as attempt 1, handed back by a graceful stop
        // (attempt back to 0, no record), claimed again as attempt 1 and run.
        let stored = HashMap::from([
            (
                A.to_string(),
                completed(
                    A,
                    2,
                    11,
                    &[(1, "worker lost: the lease of attempt 1 expired")],
                ),
            ),
            (B.to_string(), completed(B, 1, 12, &[])),
        ]);
        let runs = [run(A, 2, 11), run(B, 1, 12)];
        let f = check_jobs(&[A.into(), B.into()], &stored, &runs);
        assert_eq!(f.violations(), 0, "{f:?}");
        assert_eq!((f.recoveries, f.duplicate_executions), (1, 0));
        assert_eq!(
            (f.recovered_after_execution, f.recovered_before_execution),
            (0, 1)
        );
    }

    #[test]
    fn every_violation_is_counted() {
        let mut not_done = completed(B, 1, 10, &[]);
        not_done.job.status = JobStatus::Processing;
        let stored = HashMap::from([
            (A.to_string(), completed(A, 1, 10, &[(1, "worker lost")])),
            (B.to_string(), not_done),
        ]);
        let runs = [
            run(A, 1, 10),
            run(A, 1, 11),
            run("ffffffffffffffffffffffff", 1, 1),
        ];
        let lost = "0000000000000000000000cc".to_string();
        let f = check_jobs(&[A.into(), B.into(), lost], &stored, &runs);
        assert_eq!(f.lost, 1);
        assert_eq!(f.not_completed, 1);
        assert_eq!(
            f.two_outcomes, 1,
            "error record and completion for attempt 1"
        );
        assert_eq!(f.attempts_executed_twice, 1);
        assert_eq!(f.executions_of_unknown_jobs, 1);
        assert_eq!(
            f.executions_beyond_allowed, 0,
            "two runs, two outcomes allowed"
        );

        let gap = HashMap::from([(A.to_string(), completed(A, 3, 10, &[(1, "worker lost")]))]);
        let f = check_jobs(&[A.into()], &gap, &[run(A, 3, 10)]);
        assert_eq!(f.no_outcome, 1, "attempt 2 has no outcome");
        let f = check_jobs(&[A.into()], &gap, &[run(A, 3, 99)]);
        assert_eq!(f.completions_without_execution, 1, "pid does not match");
        let f = check_jobs(
            &[A.into()],
            &HashMap::from([(A.to_string(), completed(A, 1, 10, &[]))]),
            &[run(A, 1, 10), run(A, 2, 10)],
        );
        assert_eq!(f.executions_beyond_allowed, 1);
    }

    fn delay_item(delay: u64, first: i64) -> PlannedItem {
        PlannedItem {
            id: "d".into(),
            schedule: Schedule::Delay { delay },
            first: t(first),
        }
    }

    #[test]
    fn delay_items_detect_doubles_and_gaps() {
        let item = delay_item(2, 2);
        let fired =
            |ts: &[i64]| HashMap::from([("d".to_string(), ts.iter().map(|s| t(*s)).collect())]);
        let slack = TimeDelta::seconds(1);
        let ok = check_scheduler(
            std::slice::from_ref(&item),
            &fired(&[2, 4, 6, 8]),
            t(10),
            slack,
            &[],
        );
        assert_eq!(ok.violations(), 0, "{ok:?}");
        assert_eq!(ok.occurrences, 4);
        let doubled = check_scheduler(
            std::slice::from_ref(&item),
            &fired(&[2, 2, 4, 6, 8]),
            t(10),
            slack,
            &[],
        );
        assert_eq!(doubled.doubled, 1);
        let gap = check_scheduler(
            std::slice::from_ref(&item),
            &fired(&[2, 8]),
            t(10),
            slack,
            &[],
        );
        assert_eq!(gap.late, 1);
        let outage = Outage {
            from: t(3),
            to: t(7),
        };
        let excused = check_scheduler(
            std::slice::from_ref(&item),
            &fired(&[2, 8]),
            t(10),
            slack,
            &[outage],
        );
        assert_eq!(excused.violations(), 0, "{excused:?}");
        let stopped = check_scheduler(&[item], &fired(&[2, 4]), t(12), slack, &[]);
        assert_eq!(stopped.missed, 1);
    }

    #[test]
    fn cron_items_get_one_job_per_occurrence() {
        let every_minute = CronLists {
            minute: (0..60).collect(),
            ..Default::default()
        };
        let first = Schedule::Cron(every_minute.clone())
            .next_after(t(0))
            .expect("fires");
        let item = PlannedItem {
            id: "c".into(),
            schedule: Schedule::Cron(every_minute),
            first,
        };
        let at = |offsets: &[i64]| {
            HashMap::from([(
                "c".to_string(),
                offsets
                    .iter()
                    .map(|o| first + TimeDelta::milliseconds(*o))
                    .collect::<Vec<_>>(),
            )])
        };
        let end = first + TimeDelta::seconds(150);
        let slack = TimeDelta::seconds(3);
        let ok = check_scheduler(
            std::slice::from_ref(&item),
            &at(&[100, 60_200, 120_050]),
            end,
            slack,
            &[],
        );
        assert_eq!(ok.violations(), 0, "{ok:?}");
        assert_eq!(ok.occurrences, 3);
        let bad = check_scheduler(
            std::slice::from_ref(&item),
            &at(&[100, 150, 125_000]),
            end,
            slack,
            &[],
        );
        assert_eq!((bad.doubled, bad.missed, bad.late), (1, 1, 1));
        let stray = HashMap::from([("x".to_string(), vec![first])]);
        assert_eq!(check_scheduler(&[item], &stray, end, slack, &[]).stray, 1);
    }
}
