SELECT * FROM {jobs}
WHERE (JSON_LENGTH(:statuses) = 0 OR JSON_CONTAINS(:statuses, JSON_QUOTE(status)))
  AND (:job_name IS NULL OR job_name = :job_name)
ORDER BY queued_at ASC, id ASC LIMIT :limit OFFSET :offset
