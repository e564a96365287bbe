-- Fewer index changes per claim and outcome. SQLite changes an index wherever a statement
-- changes one of its columns, and every claim and every outcome changes `status`: the index by
-- (status, job_name) took a delete and an insert on each, on the file's one writer. Queued jobs
-- are in the claim index and running ones in the lease index; only the statuses few jobs end
-- in keep an index by status, which counting jobs reads. No hot statement read the old index:
-- claims walk the claim index, batches find their rows by id, expiries walk the lease index,
-- pruning by age the finished index and listings the listing index.
DROP INDEX "{prefix}jobs_status";
CREATE INDEX "{prefix}jobs_error_cancelled" ON {jobs} (status, job_name)
    WHERE status IN ('error', 'cancelled');
