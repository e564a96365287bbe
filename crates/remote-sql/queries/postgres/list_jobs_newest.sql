-- Jobs newest first (queued_at, then id, descending), walking the key of "<prefix>job_order"
-- backwards and reading each job by primary key, or, for a status few jobs have, reading
-- those jobs first and finding their rows by id. Joined on the id alone, as in
-- `list_jobs_oldest`.
SELECT j.* FROM {schema}"{prefix}job_order" AS o JOIN {jobs} AS j ON j.id = o.id
WHERE (cardinality(:statuses::text[]) = 0 OR j.status = ANY(:statuses))
  AND (:job_name::text IS NULL OR j.job_name = :job_name)
ORDER BY o.queued_at DESC, o.id DESC LIMIT :limit OFFSET :offset
