-- Jobs finished before a time, of the names chosen (R33), oldest first on
-- {prefix}jobs_finished, locked until deleted.
SELECT id, status FROM {jobs}
WHERE completed_at < :before AND JSON_CONTAINS(:statuses, JSON_QUOTE(status))
  AND (:all_names OR JSON_CONTAINS(:names, JSON_QUOTE(job_name)) <> :except_names)
ORDER BY completed_at, id LIMIT :limit FOR UPDATE SKIP LOCKED
