-- Claims the jobs the locking read returned (R2), each reached by its key: the id list drives
-- the join, so that no other row is even read (a scan of a small table would be).
UPDATE JSON_TABLE(:ids, '$[*]' COLUMNS (id CHAR(24) CHARACTER SET ascii COLLATE ascii_bin PATH '$')) AS c
STRAIGHT_JOIN {jobs} AS j FORCE INDEX (PRIMARY) ON j.id = c.id
SET j.status = 'processing', j.picked_at = :now, j.attempt = j.attempt + 1,
    j.lease_until = :lease_until, j.lease_token = :token
