-- Puts the chosen jobs back in the queue with a fresh attempt budget (R30), keeping queued_at,
-- priority and error records; each reached by its key.
UPDATE JSON_TABLE(:ids, '$[*]' COLUMNS (id CHAR(24) CHARACTER SET ascii COLLATE ascii_bin PATH '$')) AS c
STRAIGHT_JOIN {jobs} AS j FORCE INDEX (PRIMARY) ON j.id = c.id
SET j.status = 'queued', j.attempt = 0, j.snoozes = 0, j.not_before = NULL, j.output = NULL,
    j.completed_at = NULL, j.picked_at = NULL, j.lease_until = NULL, j.lease_token = NULL
