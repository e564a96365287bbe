DELETE FROM {errors} WHERE job_id = ANY(:ids::text[])
