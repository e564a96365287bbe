-- Takes occurrences (R15), each only while its item is active and still as its taker read
-- it, in one statement over the rows of :rows.
-- The unary `+` keeps the planner off the partial index of active items: each row of :rows
-- finds its item by id.
UPDATE {items} SET next_call_time = t.next_call_time, locked_until = t.locked_until
FROM (SELECT value ->> '$.id' AS id, value ->> '$.expected_next_call_time' AS expected_next,
        value ->> '$.expected_locked_until' AS expected_lock,
        value ->> '$.next_call_time' AS next_call_time,
        value ->> '$.locked_until' AS locked_until
    FROM json_each(:rows)) AS t
WHERE {items}.id = t.id AND +{items}.active AND {items}.next_call_time = t.expected_next
  AND {items}.locked_until = t.expected_lock
RETURNING {items}.id
