-- Appends the error records of the rows of :rows, the failures a batch of outcomes applied.
INSERT INTO {errors} (job_id, id, created, attempt, message)
SELECT job_id, record_id, created, record_attempt, message
FROM JSON_TABLE(:rows, '$[*]' COLUMNS (
    job_id CHAR(24) CHARACTER SET ascii COLLATE ascii_bin PATH '$.id' ERROR ON ERROR,
    record_id CHAR(24) CHARACTER SET ascii COLLATE ascii_bin PATH '$.record_id' ERROR ON ERROR,
    created BIGINT PATH '$.created' ERROR ON ERROR,
    record_attempt BIGINT PATH '$.record_attempt' ERROR ON ERROR,
    message LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PATH '$.message' ERROR ON ERROR))
    AS e
