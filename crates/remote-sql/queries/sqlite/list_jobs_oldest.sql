SELECT * FROM {jobs}
WHERE (:statuses = '[]' OR status IN (SELECT value FROM json_each(:statuses)))
  AND (:job_name IS NULL OR job_name = :job_name)
ORDER BY queued_at ASC, id ASC LIMIT :limit OFFSET :offset
