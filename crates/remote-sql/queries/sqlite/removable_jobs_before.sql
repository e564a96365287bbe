-- Jobs finished before a time, of the names chosen (R33), oldest first on
-- "{prefix}jobs_finished".
SELECT id, status FROM {jobs}
WHERE completed_at < :before AND status IN (SELECT value FROM json_each(:statuses))
  AND (:all_names OR (job_name IN (SELECT value FROM json_each(:names))) <> :except_names)
ORDER BY completed_at, id LIMIT :limit
