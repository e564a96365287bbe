-- Locks the items the locking read returned, each reached by its key.
UPDATE JSON_TABLE(:ids, '$[*]' COLUMNS (id CHAR(24) CHARACTER SET ascii COLLATE ascii_bin PATH '$')) AS c
STRAIGHT_JOIN {items} AS i FORCE INDEX (PRIMARY) ON i.id = c.id
SET i.locked_until = :locked_until
