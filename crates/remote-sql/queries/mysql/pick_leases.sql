-- The locking read of a batch of lease renewals: the jobs still held under the leases of
-- :rows, each fenced by its token, locked and returned by id, so that `renew_leases` extends
-- exactly these. Each row reaches its job by key.
SELECT j.id FROM JSON_TABLE(:rows, '$[*]' COLUMNS (
    id CHAR(24) CHARACTER SET ascii COLLATE ascii_bin PATH '$.id' ERROR ON ERROR,
    token BIGINT PATH '$.token' ERROR ON ERROR)) AS l
STRAIGHT_JOIN {jobs} AS j FORCE INDEX (PRIMARY) ON j.id = l.id
WHERE j.status = 'processing' AND j.lease_token = l.token
FOR UPDATE
