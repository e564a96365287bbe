-- A job's error records in order; one row of NULLs for a job without any, none for no job.
SELECT e.id, e.created, e.attempt, e.message
FROM {jobs} AS j LEFT JOIN {errors} AS e ON e.job_id = j.id
WHERE j.id = :id ORDER BY e.seq
