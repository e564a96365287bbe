-- Takes the occurrences that `pick_takes` locked, one row of :rows each (R15).
UPDATE JSON_TABLE(:rows, '$[*]' COLUMNS (
    id CHAR(24) CHARACTER SET ascii COLLATE ascii_bin PATH '$.id' ERROR ON ERROR,
    next_call_time BIGINT PATH '$.next_call_time' ERROR ON ERROR,
    locked_until BIGINT PATH '$.locked_until' ERROR ON ERROR)) AS t
STRAIGHT_JOIN {items} AS i FORCE INDEX (PRIMARY) ON i.id = t.id
SET i.next_call_time = t.next_call_time, i.locked_until = t.locked_until
