-- Takes occurrences (R15), each only while its item is active and still as its taker read it.
-- The ids are also given as an array the planner cannot see into, so that it finds the items
-- by primary key: joined with the arrays alone, a take of 256 items hashed a scan of the whole
-- table (3–4 ms at 20,000 items, growing with the table).
UPDATE {items} AS i SET next_call_time = t.next_call_time, locked_until = t.locked_until
FROM unnest(:id::text[], :expected_next_call_time::timestamptz[],
    :expected_locked_until::timestamptz[], :next_call_time::timestamptz[],
    :locked_until::timestamptz[]) AS t (id, expected_next, expected_lock, next_call_time,
    locked_until)
WHERE i.id = ANY(ARRAY(SELECT unnest(:id::text[]))) AND i.id = t.id AND i.active
  AND i.next_call_time = t.expected_next AND i.locked_until = t.expected_lock
RETURNING i.id
