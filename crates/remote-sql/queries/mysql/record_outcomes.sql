-- Ends the attempts that `pick_outcomes` locked, one row of :rows each, as its kind says; a
-- snooze (R29) goes back to the queue giving its attempt back. An UPDATE of two tables
-- assigns in no set order, so each assignment reads only the column it sets.
UPDATE JSON_TABLE(:rows, '$[*]' COLUMNS (
    id CHAR(24) CHARACTER SET ascii COLLATE ascii_bin PATH '$.id' ERROR ON ERROR,
    ended_at BIGINT PATH '$.now' ERROR ON ERROR,
    kind VARCHAR(10) CHARACTER SET ascii COLLATE ascii_bin PATH '$.kind' ERROR ON ERROR,
    output LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PATH '$.output' ERROR ON ERROR,
    not_before BIGINT PATH '$.not_before' ERROR ON ERROR)) AS o
STRAIGHT_JOIN {jobs} AS j FORCE INDEX (PRIMARY) ON j.id = o.id
SET j.output = CASE WHEN o.kind = 'completed' THEN o.output ELSE j.output END,
    j.not_before = CASE WHEN o.kind IN ('retry', 'snooze') THEN o.not_before
        ELSE j.not_before END,
    j.completed_at = CASE WHEN o.kind IN ('retry', 'snooze') THEN j.completed_at
        ELSE o.ended_at END,
    j.attempt = CASE WHEN o.kind = 'snooze' AND j.attempt > 0 THEN j.attempt - 1
        ELSE j.attempt END,
    j.snoozes = CASE WHEN o.kind = 'snooze' THEN j.snoozes + 1 ELSE j.snoozes END,
    j.status = CASE o.kind WHEN 'completed' THEN 'completed' WHEN 'failed' THEN 'error'
        ELSE 'queued' END,
    j.lease_until = NULL, j.lease_token = NULL
