-- Puts the chosen jobs back in the queue with a fresh attempt budget (R30), keeping queued_at,
-- priority and error records.
UPDATE {jobs} SET status = 'queued', attempt = 0, snoozes = 0, not_before = NULL, output = NULL,
    completed_at = NULL, picked_at = NULL, lease_until = NULL, lease_token = NULL
WHERE id IN (SELECT value FROM json_each(:ids))
