-- Finished jobs to remove, oldest first (NULL first), of the names chosen (R33).
SELECT id, status FROM {jobs}
WHERE status IN (SELECT value FROM json_each(:statuses))
  AND (:all_names OR (job_name IN (SELECT value FROM json_each(:names))) <> :except_names)
ORDER BY completed_at, id LIMIT :limit
