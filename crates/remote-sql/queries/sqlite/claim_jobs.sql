-- Claims due jobs in pull order (R2, R26: highest priority, oldest, smallest id), walking the
-- partial claim index (named, so that no statistics can steer the planner elsewhere). Writers
-- take the file's lock one at a time, so concurrent claims never share a job.
UPDATE {jobs} SET status = 'processing', picked_at = :now, attempt = attempt + 1,
    lease_until = :lease_until, lease_token = :token
WHERE id IN (SELECT id FROM {jobs} INDEXED BY "{prefix}jobs_claim"
    WHERE status = 'queued' AND job_name IN (SELECT value FROM json_each(:names))
      AND (not_before > :now) IS NOT TRUE
    ORDER BY priority DESC, queued_at, id LIMIT :limit)
RETURNING *
