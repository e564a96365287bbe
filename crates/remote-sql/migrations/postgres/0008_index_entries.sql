-- Fewer index entries per claim and outcome. An update that changes an indexed column adds an
-- entry to every index of its table, and every claim and every outcome changes `status`. Two
-- indexes held every job and so took an entry for each, for lookups that need no such index:
--
-- * The index by (status, job_name). Queued jobs are in the claim index and running ones in
--   the lease index; only the statuses few jobs end in keep an index of their own, so that
--   listing, retrying or counting failed and cancelled jobs does not walk every job.
-- * The listing index on (queued_at, id), though neither a claim nor an outcome moves a job
--   in the listing. "<prefix>job_order" holds one row per job, its key the listing order,
--   added with the job and deleted with it by triggers, whatever statement (or an earlier
--   release) adds or deletes it; listings walk its key and read each job by primary key, or
--   start from the jobs of a status and find their rows by id. No statement changes a job's
--   `queued_at`.
DROP INDEX {schema}"{prefix}jobs_status";
CREATE INDEX "{prefix}jobs_error_cancelled" ON {jobs} (status, job_name)
    WHERE status IN ('error', 'cancelled');

CREATE TABLE {schema}"{prefix}job_order" (
    queued_at timestamptz NOT NULL,
    id        text COLLATE "C" NOT NULL,
    PRIMARY KEY (queued_at, id)
);
-- Reached from a job (a failed one, found on its index) by id; unique, so that the planner
-- knows a lookup finds one row before any statistics.
CREATE UNIQUE INDEX "{prefix}job_order_id" ON {schema}"{prefix}job_order" (id);
INSERT INTO {schema}"{prefix}job_order" (queued_at, id) SELECT queued_at, id FROM {jobs};

CREATE OR REPLACE FUNCTION {schema}"{prefix}job_order_add"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {schema}"{prefix}job_order" (queued_at, id) SELECT queued_at, id FROM added;
    RETURN NULL;
END
$$;
CREATE OR REPLACE FUNCTION {schema}"{prefix}job_order_remove"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {schema}"{prefix}job_order" AS o USING removed AS r WHERE o.id = r.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER "{prefix}job_order_add" AFTER INSERT ON {jobs}
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT
    EXECUTE FUNCTION {schema}"{prefix}job_order_add"();
CREATE TRIGGER "{prefix}job_order_remove" AFTER DELETE ON {jobs}
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT
    EXECUTE FUNCTION {schema}"{prefix}job_order_remove"();
DROP INDEX {schema}"{prefix}jobs_order";
