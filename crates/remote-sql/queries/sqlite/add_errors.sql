-- Appends the error records of the rows of :rows, the failures a batch of outcomes applied.
INSERT INTO {errors} (job_id, id, created, attempt, message)
SELECT value ->> '$.id', value ->> '$.record_id', value ->> '$.created',
    value ->> '$.record_attempt', value ->> '$.message'
FROM json_each(:rows)
