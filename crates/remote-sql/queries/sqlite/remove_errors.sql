DELETE FROM {errors} WHERE job_id IN (SELECT value FROM json_each(:ids))
