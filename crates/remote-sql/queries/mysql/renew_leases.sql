-- Extends the leases that `pick_leases` locked, one row of :rows each.
UPDATE JSON_TABLE(:rows, '$[*]' COLUMNS (id CHAR(24) CHARACTER SET ascii COLLATE ascii_bin PATH '$.id' ERROR ON ERROR)) AS l
STRAIGHT_JOIN {jobs} AS j FORCE INDEX (PRIMARY) ON j.id = l.id
SET j.lease_until = :lease_until
