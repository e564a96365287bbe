-- The claim's locking read: due jobs in pull order (R2, R26: highest priority, oldest,
-- smallest id) on the claim index, skipping rows other claimers hold. JSON_CONTAINS keeps the
-- index walk (a JSON_TABLE join would sort).
SELECT * FROM {jobs} FORCE INDEX ({prefix}jobs_claim)
WHERE status = 'queued' AND JSON_CONTAINS(:names, JSON_QUOTE(job_name))
  AND (not_before > :now) IS NOT TRUE
ORDER BY priority DESC, queued_at, id LIMIT :limit
FOR UPDATE SKIP LOCKED
