INSERT INTO {errors} (job_id, id, created, attempt, message)
VALUES (:id, :record_id, :created, :record_attempt, :message)
