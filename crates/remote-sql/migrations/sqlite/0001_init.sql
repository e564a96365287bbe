-- Times are integer milliseconds since the Unix epoch (UTC); JSON is text.
CREATE TABLE {jobs} (
    id             TEXT NOT NULL PRIMARY KEY,
    job_name       TEXT NOT NULL,
    input          TEXT NOT NULL,
    status         TEXT NOT NULL
        CHECK (status IN ('queued', 'processing', 'completed', 'cancelled', 'error')),
    output         TEXT,
    retry_counter  INTEGER NOT NULL,
    max_retries    INTEGER NOT NULL,
    retry_delay_ms INTEGER NOT NULL,
    queued_at      INTEGER NOT NULL,
    retry_time     INTEGER,
    picked_at      INTEGER,
    completed_at   INTEGER,
    lease_until    INTEGER,
    lease_token    INTEGER
);

-- The claim: queued jobs in pull order (R2), covering what the filter needs.
CREATE INDEX "{prefix}jobs_claim" ON {jobs} (queued_at, id, job_name, retry_time)
    WHERE status = 'queued';
-- Lease recovery: running jobs by lease end.
CREATE INDEX "{prefix}jobs_lease" ON {jobs} (lease_until, id) WHERE status = 'processing';
-- Listing in creation order, counting and removing by status.
CREATE INDEX "{prefix}jobs_order" ON {jobs} (queued_at, id);
CREATE INDEX "{prefix}jobs_status" ON {jobs} (status, job_name);

CREATE TABLE {errors} (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id  TEXT NOT NULL REFERENCES {jobs} (id) ON DELETE CASCADE,
    id      TEXT NOT NULL,
    created INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    message TEXT NOT NULL
);

CREATE INDEX "{prefix}errors_job" ON {errors} (job_id, seq);

CREATE TABLE {items} (
    id             TEXT NOT NULL PRIMARY KEY,
    job_name       TEXT NOT NULL,
    input          TEXT NOT NULL,
    active         INTEGER NOT NULL,
    next_call_time INTEGER,
    retry_time     INTEGER,
    retry_delay_ms INTEGER NOT NULL,
    schedule       TEXT NOT NULL
);

CREATE INDEX "{prefix}items_due" ON {items} (next_call_time, id) WHERE active;
