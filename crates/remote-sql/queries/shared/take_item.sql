-- Takes an occurrence: only while the item is active and still as the taker read it (R15).
UPDATE {items} SET next_call_time = :next_call_time, locked_until = :locked_until
WHERE id = :id AND active AND next_call_time = :expected_next_call_time
  AND locked_until = :expected_locked_until
