//! Finding jobs: by id, by text in their input, by status, name and the time they were
//! queued. The store lists jobs by status and name only, so the text and the time range are
//! matched here, over at most [`SCAN_LIMIT`] jobs of the listing the store returns.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use remote_core::{Job, JobId, JobQuery, Processor};

/// Most jobs one search reads from the store to match input text or a time range.
pub const SCAN_LIMIT: u64 = 10_000;

/// Jobs read per store call while scanning.
const SCAN_PAGE: u64 = 500;

/// What to look for beyond the store's status and name filters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Search {
    /// A job id: that job only.
    pub id: Option<JobId>,
    /// Text the job's input (as compact JSON) contains, compared without case.
    pub text: Option<String>,
    /// Only jobs queued at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Only jobs queued before this time.
    pub to: Option<DateTime<Utc>>,
}

/// A page of found jobs.
#[derive(Clone, Debug, Default)]
pub struct Found {
    /// The jobs of the page.
    pub jobs: Vec<Job>,
    /// Whether more jobs match after this page.
    pub has_more: bool,
    /// Jobs read from the store to match text or time, when the search scanned.
    pub scanned: Option<u64>,
    /// True when the scan stopped at [`SCAN_LIMIT`] before the end of the listing.
    pub truncated: bool,
}

impl Search {
    /// A search from the `q`, `from` and `to` parameters: `q` is an id when it parses as one,
    /// input text otherwise.
    pub fn parse(q: Option<&str>, from: Option<&str>, to: Option<&str>) -> Result<Self, String> {
        let q = q.map(str::trim).filter(|q| !q.is_empty());
        let (id, text) = match q {
            Some(q) => match JobId::parse(q) {
                Ok(id) => (Some(id), None),
                Err(_) => (None, Some(q.to_lowercase())),
            },
            None => (None, None),
        };
        Ok(Self {
            id,
            text,
            from: time_param(from, "from")?,
            to: time_param(to, "to")?,
        })
    }

    /// True when the store's listing alone answers (no id, text or time range).
    pub fn is_plain(&self) -> bool {
        self.id.is_none() && self.text.is_none() && self.from.is_none() && self.to.is_none()
    }

    fn in_range(&self, job: &Job) -> bool {
        self.from.is_none_or(|from| job.queued_at >= from)
            && self.to.is_none_or(|to| job.queued_at < to)
    }

    fn matches(&self, job: &Job) -> bool {
        self.in_range(job)
            && self
                .text
                .as_ref()
                .is_none_or(|t| job.input.to_string().to_lowercase().contains(t.as_str()))
    }
}

/// A time parameter: RFC 3339, `YYYY-MM-DDTHH:MM[:SS]` or `YYYY-MM-DD HH:MM[:SS]` (UTC, as a
/// browser's date-time field sends it), or a date (its midnight, UTC).
pub fn time_param(text: Option<&str>, what: &str) -> Result<Option<DateTime<Utc>>, String> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    for format in [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(Some(t.and_utc()));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()));
    }
    Err(format!(
        "{what} must be a time like 2030-01-01T12:00 (UTC) or 2030-01-01T12:00:00Z, not '{text}'"
    ))
}

/// The jobs `query` (statuses, name, order) and `search` select, `per_page` of them after
/// skipping `offset`.
pub async fn find(
    processor: &Processor,
    query: &JobQuery,
    search: &Search,
    offset: u64,
    per_page: u64,
) -> remote_core::Result<Found> {
    if let Some(id) = &search.id {
        let job = match processor.get_job(id).await {
            Ok(job) => Some(job),
            Err(remote_core::Error::JobNotFound(_)) => None,
            Err(e) => return Err(e),
        };
        let jobs: Vec<Job> = job
            .filter(|j| offset == 0 && query.matches(j) && search.in_range(j))
            .into_iter()
            .collect();
        return Ok(Found {
            jobs,
            ..Found::default()
        });
    }
    if search.is_plain() {
        let mut jobs = processor
            .list_jobs(&JobQuery {
                offset,
                limit: Some(per_page + 1),
                ..query.clone()
            })
            .await?;
        let has_more = jobs.len() as u64 > per_page;
        jobs.truncate(per_page as usize);
        return Ok(Found {
            jobs,
            has_more,
            ..Found::default()
        });
    }
    let wanted = offset + per_page + 1;
    let mut matched: Vec<Job> = Vec::new();
    let mut scanned = 0;
    let mut truncated = false;
    'scan: loop {
        let limit = SCAN_PAGE.min(SCAN_LIMIT - scanned);
        if limit == 0 {
            truncated = true;
            break;
        }
        let page = processor
            .list_jobs(&JobQuery {
                offset: scanned,
                limit: Some(limit),
                ..query.clone()
            })
            .await?;
        let read = page.len() as u64;
        for job in page {
            scanned += 1;
            // the listing is ordered by queued_at: past the range's far end nothing matches
            let past = if query.oldest_first {
                search.to.is_some_and(|to| job.queued_at >= to)
            } else {
                search.from.is_some_and(|from| job.queued_at < from)
            };
            if past {
                break 'scan;
            }
            if search.matches(&job) {
                matched.push(job);
                if matched.len() as u64 >= wanted {
                    break 'scan;
                }
            }
        }
        if read < limit {
            break;
        }
    }
    let has_more = matched.len() as u64 > offset + per_page;
    let jobs = matched
        .into_iter()
        .skip(offset as usize)
        .take(per_page as usize)
        .collect();
    Ok(Found {
        jobs,
        has_more,
        scanned: Some(scanned),
        truncated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters() {
        let s = Search::parse(
            Some(" Invoice "),
            Some("2030-01-02T03:04"),
            Some("2030-01-03"),
        )
        .expect("parse");
        assert_eq!(s.text.as_deref(), Some("invoice"));
        assert_eq!(
            s.from.map(|t| t.to_rfc3339()),
            Some("2030-01-02T03:04:00+00:00".into())
        );
        assert_eq!(
            s.to.map(|t| t.to_rfc3339()),
            Some("2030-01-03T00:00:00+00:00".into())
        );
        let id = JobId::new();
        assert_eq!(
            Search::parse(Some(id.as_str()), None, None).map(|s| s.id),
            Ok(Some(id))
        );
        assert!(Search::parse(None, Some("yesterday"), None).is_err());
        assert!(Search::parse(Some(""), None, Some(" ")).is_ok_and(|s| s.is_plain()));
    }
}
