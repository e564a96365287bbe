-- Hands claimed attempts back as if never claimed (R23), each fenced by its token; wakes the
-- listeners once when any was released.
-- The status test is wrapped in `coalesce` so that each entry finds its job by primary key,
-- not through the status or lease index and their dead entries (see record_outcomes.sql).
WITH released AS (
    UPDATE {jobs} AS j SET status = 'queued', attempt = greatest(j.attempt - 1, 0),
        picked_at = CASE WHEN j.attempt > 1 THEN j.picked_at END,
        lease_until = NULL, lease_token = NULL
    FROM unnest(:id::text[], :token::bigint[]) AS l (id, token)
    WHERE j.id = l.id AND coalesce(j.status = 'processing', false) AND j.lease_token = l.token
    RETURNING j.id
)
SELECT id FROM released
UNION ALL SELECT NULL FROM (SELECT pg_notify('{channel}', '') FROM released LIMIT 1) AS woken
