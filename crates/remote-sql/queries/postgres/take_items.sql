-- Takes occurrences (R15), each only while its item is active and still as its taker read it.
UPDATE {items} AS i SET next_call_time = t.next_call_time, locked_until = t.locked_until
FROM unnest(:id::text[], :expected_next_call_time::timestamptz[],
    :expected_locked_until::timestamptz[], :next_call_time::timestamptz[],
    :locked_until::timestamptz[]) AS t (id, expected_next, expected_lock, next_call_time,
    locked_until)
WHERE i.id = t.id AND i.active AND i.next_call_time = t.expected_next
  AND i.locked_until = t.expected_lock
RETURNING i.id
