-- Jobs in listing order (queued_at, then id), walking the key of "<prefix>job_order" and
-- reading each job by primary key, or, for a status few jobs have, reading those jobs first
-- and finding their rows by id. Joined on the id alone: joined on both columns, the planner
-- takes them for independent and expects one row, so it sorts every job instead of walking
-- the key.
SELECT j.* FROM {schema}"{prefix}job_order" AS o JOIN {jobs} AS j ON j.id = o.id
WHERE (cardinality(:statuses::text[]) = 0 OR j.status = ANY(:statuses))
  AND (:job_name::text IS NULL OR j.job_name = :job_name)
ORDER BY o.queued_at ASC, o.id ASC LIMIT :limit OFFSET :offset
