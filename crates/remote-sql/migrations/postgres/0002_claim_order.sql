-- The claim must walk its partial index whatever the statistics say. Keyed on (queued_at, id)
-- like the listing index, it tied with it on cost, and with statistics taken while most rows
-- were queued the planner took the listing index and filtered past every job already claimed:
-- each claim then cost more the more jobs were done. Keyed on queued_at in UTC (the same
-- order), it is the only index that gives the claim's ORDER BY.
DROP INDEX {schema}"{prefix}jobs_claim";
CREATE INDEX "{prefix}jobs_claim" ON {jobs} ((queued_at AT TIME ZONE 'UTC'), id)
    INCLUDE (job_name, retry_time) WHERE status = 'queued';
