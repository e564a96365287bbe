-- An update that changes an indexed column adds an entry to every index of the table, and a
-- claim and an outcome each change `status`: the status index, which held every job, took one
-- more entry per claim and per outcome for lookups the other indexes serve. Queued jobs are
-- in the claim index, processing ones in the lease index, and listings walk the listing index;
-- only the statuses few jobs end in keep an index of their own, so that listing, retrying or
-- counting the failed and cancelled jobs does not walk every job.
DROP INDEX {schema}"{prefix}jobs_status";
CREATE INDEX "{prefix}jobs_error_cancelled" ON {jobs} (status, job_name)
    WHERE status IN ('error', 'cancelled');
