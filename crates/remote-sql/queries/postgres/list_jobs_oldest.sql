SELECT * FROM {jobs}
WHERE (cardinality(:statuses::text[]) = 0 OR status = ANY(:statuses))
  AND (:job_name::text IS NULL OR job_name = :job_name)
ORDER BY queued_at ASC, id ASC LIMIT :limit OFFSET :offset
