-- Puts the chosen jobs back in the queue with a fresh attempt budget (R30), keeping queued_at,
-- priority and error records; wakes the listeners once, when the change commits. The ids are
-- looked up on the primary key, as in `remove_jobs`.
WITH retried AS (
    UPDATE {jobs} SET status = 'queued', attempt = 0, snoozes = 0, not_before = NULL,
        output = NULL, completed_at = NULL, picked_at = NULL, lease_until = NULL,
        lease_token = NULL
    WHERE id = ANY(ARRAY(SELECT unnest(:ids::text[])))
    RETURNING id
)
SELECT count(*) AS n FROM retried
UNION ALL SELECT NULL FROM (SELECT pg_notify('{channel}', '') FROM retried LIMIT 1) AS woken
