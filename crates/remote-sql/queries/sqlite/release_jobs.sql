-- Hands claimed attempts back as if never claimed (R23), each fenced by its token, in one
-- statement over the rows of :rows; `picked_at` is read before `attempt` changes.
-- The unary `+` keeps the planner off the status indexes: each row of :rows finds its job by
-- id, rather than every processing job scanning :rows.
UPDATE {jobs} SET
    picked_at = CASE WHEN {jobs}.attempt > 1 THEN {jobs}.picked_at END,
    attempt = CASE WHEN {jobs}.attempt > 0 THEN {jobs}.attempt - 1 ELSE 0 END,
    status = 'queued', lease_until = NULL, lease_token = NULL
FROM (SELECT value ->> '$.id' AS id, value ->> '$.token' AS token FROM json_each(:rows)) AS l
WHERE {jobs}.id = l.id AND +{jobs}.status = 'processing' AND {jobs}.lease_token = l.token
RETURNING {jobs}.id
