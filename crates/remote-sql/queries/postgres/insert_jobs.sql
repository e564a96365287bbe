-- Adds jobs and answers for them in one statement (R1, R27): reads which of the call's :ids are
-- stored and which stored jobs hold the keys of the jobs to add that would hold theirs (as
-- `job_conflicts` does), adds those jobs whose key is free — none when an id is stored, which
-- refuses the call — and returns the ids added with what it read ('stored', 'held'). An id or
-- a key taken by a concurrent insert breaks a unique index, which refuses the whole statement.
-- Wakes the listeners of the jobs table once, when the change commits. Each id is one probe of
-- the primary key (the LIMIT keeps the planner from turning the probes into a join), whatever
-- the table's size or statistics: given the ids as one parameter, a table without statistics
-- made it scan every row, comparing each with every id.
WITH new AS (
    SELECT * FROM unnest(:id::text[], :job_name::text[], :input::text[], :status::text[],
        :output::text[], :attempt::bigint[], :max_attempts::bigint[], :retry_delay_ms::bigint[],
        :queued_at::timestamptz[], :not_before::timestamptz[], :picked_at::timestamptz[],
        :completed_at::timestamptz[], :lease_until::timestamptz[], :lease_token::bigint[],
        :priority::smallint[], :unique_key::text[], :unique_across::smallint[],
        :timeout_ms::bigint[], :snoozes::integer[], :trace_context::text[])
        AS new (id, job_name, input, status, output, attempt, max_attempts, retry_delay_ms,
            queued_at, not_before, picked_at, completed_at, lease_until, lease_token, priority,
            unique_key, unique_across, timeout_ms, snoozes, trace_context)
), stored AS (
    SELECT s.id FROM unnest(:ids::text[]) AS i (id)
    CROSS JOIN LATERAL (SELECT id FROM {jobs} WHERE id = i.id LIMIT 1) AS s
), held AS (
    SELECT n.id AS job, h.id AS holder, n.unique_key FROM new AS n
    CROSS JOIN LATERAL (
        SELECT id FROM {jobs}
        WHERE unique_digest = decode(md5(n.unique_key), 'hex') AND unique_key = n.unique_key
          AND unique_key IS NOT NULL
          AND (unique_across & CASE status WHEN 'queued' THEN 1 WHEN 'processing' THEN 2
               WHEN 'completed' THEN 4 WHEN 'cancelled' THEN 8 ELSE 16 END) <> 0
        LIMIT 2
    ) AS h
    WHERE n.unique_key IS NOT NULL
      AND (n.unique_across & CASE n.status WHEN 'queued' THEN 1 WHEN 'processing' THEN 2
           WHEN 'completed' THEN 4 WHEN 'cancelled' THEN 8 ELSE 16 END) <> 0
), added AS (
    INSERT INTO {jobs} (id, job_name, input, status, output, attempt, max_attempts,
        retry_delay_ms, queued_at, not_before, picked_at, completed_at, lease_until, lease_token,
        priority, unique_key, unique_across, timeout_ms, snoozes, trace_context)
    SELECT id, job_name, input::json, status, output::json, attempt, max_attempts,
        retry_delay_ms, queued_at, not_before, picked_at, completed_at, lease_until, lease_token,
        priority, unique_key, unique_across, timeout_ms, snoozes, trace_context
    FROM new
    WHERE NOT EXISTS (SELECT FROM stored) AND NOT EXISTS (SELECT FROM held WHERE job = new.id)
    RETURNING id
)
SELECT 'added' AS kind, id, NULL AS unique_key FROM added
UNION ALL SELECT 'stored', id, NULL FROM stored
UNION ALL SELECT 'held', holder, unique_key FROM held
UNION ALL SELECT 'woken', NULL, NULL
    FROM (SELECT pg_notify('{channel}', '') FROM added LIMIT 1) AS woken
