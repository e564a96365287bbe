-- The locking read of a batch of outcomes: the jobs whose attempts the rows of :rows end,
-- each fenced by its own lease token (and, rescuing, only once its lease expired), locked and
-- returned by id, so that `record_outcomes` ends exactly these (an UPDATE returns no rows).
-- Each row reaches its job by key.
SELECT j.id FROM JSON_TABLE(:rows, '$[*]' COLUMNS (
    id CHAR(24) CHARACTER SET ascii COLLATE ascii_bin PATH '$.id' ERROR ON ERROR,
    token BIGINT PATH '$.token' ERROR ON ERROR,
    ended_at BIGINT PATH '$.now' ERROR ON ERROR)) AS o
STRAIGHT_JOIN {jobs} AS j FORCE INDEX (PRIMARY) ON j.id = o.id
WHERE j.status = 'processing' AND j.lease_token = o.token
  AND (:rescue AND j.lease_until > o.ended_at) IS NOT TRUE
FOR UPDATE
