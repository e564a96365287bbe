-- Adds jobs, all or none: the store chose them (no stored id, no held key), and the unique
-- indexes refuse the whole statement otherwise. One row per element of :rows.
INSERT INTO {jobs} (id, job_name, input, status, output, attempt, max_attempts, retry_delay_ms,
    queued_at, not_before, picked_at, completed_at, lease_until, lease_token, priority,
    unique_key, unique_across, timeout_ms, snoozes, trace_context)
SELECT value ->> '$.id', value ->> '$.job_name', value ->> '$.input', value ->> '$.status',
    value ->> '$.output', value ->> '$.attempt', value ->> '$.max_attempts',
    value ->> '$.retry_delay_ms', value ->> '$.queued_at', value ->> '$.not_before',
    value ->> '$.picked_at', value ->> '$.completed_at', value ->> '$.lease_until',
    value ->> '$.lease_token', value ->> '$.priority', value ->> '$.unique_key',
    value ->> '$.unique_across', value ->> '$.timeout_ms', value ->> '$.snoozes',
    value ->> '$.trace_context'
FROM json_each(:rows)
