-- Adds jobs, all or none, in one statement: the store chose them (no stored id, no held key),
-- and an id or a key taken meanwhile breaks a unique index, which refuses the whole statement.
-- One row per element of :rows (values unset are absent, so NULL). The name goes through
-- CONCAT: MariaDB writes a JSON_TABLE value too long for a TEXT column cut short, even in
-- strict mode, where an expression's value is refused.
INSERT INTO {jobs} (id, job_name, input, status, output, attempt, max_attempts, retry_delay_ms,
    queued_at, not_before, picked_at, completed_at, lease_until, lease_token, priority,
    unique_key, unique_across, timeout_ms, snoozes, trace_context)
SELECT id, CONCAT(job_name), input, status, output, attempt, max_attempts, retry_delay_ms, queued_at,
    not_before, picked_at, completed_at, lease_until, lease_token, priority, unique_key,
    unique_across, timeout_ms, snoozes, trace_context
FROM JSON_TABLE(:rows, '$[*]' COLUMNS (
    id CHAR(24) CHARACTER SET ascii COLLATE ascii_bin PATH '$.id' ERROR ON ERROR,
    job_name LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin PATH '$.job_name' ERROR ON ERROR,
    input LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PATH '$.input' ERROR ON ERROR,
    status VARCHAR(10) CHARACTER SET ascii COLLATE ascii_bin PATH '$.status' ERROR ON ERROR,
    output LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PATH '$.output' ERROR ON ERROR,
    attempt BIGINT PATH '$.attempt' ERROR ON ERROR,
    max_attempts BIGINT PATH '$.max_attempts' ERROR ON ERROR,
    retry_delay_ms BIGINT PATH '$.retry_delay_ms' ERROR ON ERROR,
    queued_at BIGINT PATH '$.queued_at' ERROR ON ERROR,
    not_before BIGINT PATH '$.not_before' ERROR ON ERROR,
    picked_at BIGINT PATH '$.picked_at' ERROR ON ERROR,
    completed_at BIGINT PATH '$.completed_at' ERROR ON ERROR,
    lease_until BIGINT PATH '$.lease_until' ERROR ON ERROR,
    lease_token BIGINT PATH '$.lease_token' ERROR ON ERROR,
    priority SMALLINT PATH '$.priority' ERROR ON ERROR,
    unique_key LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin PATH '$.unique_key' ERROR ON ERROR,
    unique_across SMALLINT PATH '$.unique_across' ERROR ON ERROR,
    timeout_ms BIGINT PATH '$.timeout_ms' ERROR ON ERROR,
    snoozes INT PATH '$.snoozes' ERROR ON ERROR,
    trace_context LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PATH '$.trace_context' ERROR ON ERROR)) AS new
