-- Ends attempts, each fenced by its own lease token (and, rescuing, only once its lease
-- expired), in one statement over the rows of :rows; returns the ids it changed. A snooze
-- (R29) goes back to the queue giving its attempt back. The error records of the failures
-- follow in `add_errors`, in the same transaction.
-- The unary `+` keeps the planner off the status indexes: each row of :rows finds its job by
-- id, rather than every processing job scanning :rows.
UPDATE {jobs} SET
    output = CASE WHEN o.kind = 'completed' THEN o.output ELSE {jobs}.output END,
    not_before = CASE WHEN o.kind IN ('retry', 'snooze') THEN o.not_before
        ELSE {jobs}.not_before END,
    completed_at = CASE WHEN o.kind IN ('retry', 'snooze') THEN {jobs}.completed_at
        ELSE o.now END,
    attempt = CASE WHEN o.kind = 'snooze' AND {jobs}.attempt > 0 THEN {jobs}.attempt - 1
        ELSE {jobs}.attempt END,
    snoozes = CASE WHEN o.kind = 'snooze' THEN {jobs}.snoozes + 1 ELSE {jobs}.snoozes END,
    status = CASE o.kind WHEN 'completed' THEN 'completed' WHEN 'failed' THEN 'error'
        ELSE 'queued' END,
    lease_until = NULL, lease_token = NULL
FROM (SELECT value ->> '$.id' AS id, value ->> '$.token' AS token, value ->> '$.now' AS now,
        value ->> '$.kind' AS kind, value ->> '$.output' AS output,
        value ->> '$.not_before' AS not_before
    FROM json_each(:rows)) AS o
WHERE {jobs}.id = o.id AND +{jobs}.status = 'processing' AND {jobs}.lease_token = o.token
  AND (:rescue AND {jobs}.lease_until > o.now) IS NOT TRUE
RETURNING {jobs}.id
