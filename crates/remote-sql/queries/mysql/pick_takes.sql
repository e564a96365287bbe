-- The locking read of a batch of takes (R15): the items of :rows still active and as their
-- taker read them, locked and returned by id, so that `take_items` takes exactly these.
-- Each row reaches its item by key.
SELECT i.id FROM JSON_TABLE(:rows, '$[*]' COLUMNS (
    id CHAR(24) CHARACTER SET ascii COLLATE ascii_bin PATH '$.id' ERROR ON ERROR,
    expected_next BIGINT PATH '$.expected_next_call_time' ERROR ON ERROR,
    expected_lock BIGINT PATH '$.expected_locked_until' ERROR ON ERROR)) AS t
STRAIGHT_JOIN {items} AS i FORCE INDEX (PRIMARY) ON i.id = t.id
WHERE i.active AND i.next_call_time = t.expected_next AND i.locked_until = t.expected_lock
FOR UPDATE
