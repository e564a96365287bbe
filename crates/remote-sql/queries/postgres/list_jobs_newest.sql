SELECT * FROM {jobs}
WHERE (cardinality(:statuses::text[]) = 0 OR status = ANY(:statuses))
  AND (:job_name::text IS NULL OR job_name = :job_name)
ORDER BY queued_at DESC, id DESC LIMIT :limit OFFSET :offset
