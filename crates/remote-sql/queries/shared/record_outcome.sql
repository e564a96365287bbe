-- Ends one attempt as its kind says, fenced by its lease token (and, rescuing, only once its
-- lease expired); a snooze (R29) goes back to the queue giving its attempt back. Columns are
-- assigned before any they are read by (MySQL assigns in order).
UPDATE {jobs} SET
    output = CASE WHEN :kind = 'completed' THEN :output ELSE output END,
    not_before = CASE WHEN :kind IN ('retry', 'snooze') THEN :not_before ELSE not_before END,
    completed_at = CASE WHEN :kind IN ('retry', 'snooze') THEN completed_at ELSE :now END,
    attempt = CASE WHEN :kind = 'snooze' AND attempt > 0 THEN attempt - 1 ELSE attempt END,
    snoozes = CASE WHEN :kind = 'snooze' THEN snoozes + 1 ELSE snoozes END,
    status = CASE WHEN :kind = 'completed' THEN 'completed'
                  WHEN :kind = 'failed' THEN 'error' ELSE 'queued' END,
    lease_until = NULL, lease_token = NULL
WHERE id = :id AND status = 'processing' AND lease_token = :token
  AND (:rescue AND lease_until > :now) IS NOT TRUE
