SELECT * FROM {jobs}
WHERE (:statuses = '[]' OR status IN (SELECT value FROM json_each(:statuses)))
  AND (:job_name IS NULL OR job_name = :job_name)
ORDER BY queued_at DESC, id DESC LIMIT :limit OFFSET :offset
