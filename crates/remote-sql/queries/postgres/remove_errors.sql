-- Deletes the error records of the jobs of :ids, probing the index by job for each id (as
-- `remove_jobs` does the primary key).
DELETE FROM {errors} WHERE job_id = ANY(ARRAY(SELECT unnest(:ids::text[])))
