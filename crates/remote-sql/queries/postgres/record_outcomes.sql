-- Ends attempts, each fenced by its own lease token (and, rescuing, only once its lease
-- expired), and appends the failures' error records, in one statement. A snooze (R29) goes
-- back to the queue giving its attempt back, with no record.
-- The status test is wrapped in `coalesce` so that no index serves it and the planner guesses
-- that it passes half the rows: each entry then finds its job by primary key. Written as a
-- plain `=`, it was served by the status or lease index, and a flush joined every entry those
-- hold for 'processing', dead versions included: its cost grew with the jobs worked since the
-- table was last vacuumed. `IS TRUE` would not do: statistics taken while nothing ran made the
-- planner scan the whole table and loop over the entries for each row.
WITH o AS (
    SELECT * FROM unnest(:id::text[], :token::bigint[], :now::timestamptz[], :kind::text[],
        :output::text[], :not_before::timestamptz[], :record_id::text[], :created::timestamptz[],
        :record_attempt::bigint[], :message::bytea[])
        AS o (id, token, now, kind, output, not_before, record_id, created, record_attempt,
            message)
), ended AS (
    UPDATE {jobs} AS j SET
        status = CASE o.kind WHEN 'completed' THEN 'completed' WHEN 'failed' THEN 'error'
            ELSE 'queued' END,
        output = CASE WHEN o.kind = 'completed' THEN o.output::json ELSE j.output END,
        not_before = CASE WHEN o.kind IN ('retry', 'snooze') THEN o.not_before
            ELSE j.not_before END,
        completed_at = CASE WHEN o.kind IN ('retry', 'snooze') THEN j.completed_at
            ELSE o.now END,
        attempt = CASE WHEN o.kind = 'snooze' THEN greatest(j.attempt - 1, 0) ELSE j.attempt END,
        snoozes = CASE WHEN o.kind = 'snooze' THEN j.snoozes + 1 ELSE j.snoozes END,
        lease_until = NULL, lease_token = NULL
    FROM o
    WHERE j.id = o.id AND coalesce(j.status = 'processing', false) AND j.lease_token = o.token
      AND (:rescue AND j.lease_until > o.now) IS NOT TRUE
    RETURNING o.*
), recorded AS (
    INSERT INTO {errors} (job_id, id, created, attempt, message)
    SELECT id, record_id, created, record_attempt, message FROM ended
    WHERE kind IN ('retry', 'failed')
)
SELECT id FROM ended
