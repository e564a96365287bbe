-- Back to the queue as if never claimed (R23); `picked_at` is read before `attempt` changes.
UPDATE {jobs} SET
    picked_at = CASE WHEN attempt > 1 THEN picked_at END,
    attempt = CASE WHEN attempt > 0 THEN attempt - 1 ELSE 0 END,
    status = 'queued', lease_until = NULL, lease_token = NULL
WHERE id = :id AND status = 'processing' AND lease_token = :token
