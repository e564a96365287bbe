-- Locks due items, earliest first (R15); items another scheduler holds are skipped (R25).
UPDATE {items} AS i SET locked_until = :locked_until
FROM (SELECT id FROM {items}
      WHERE active AND next_call_time <= :now AND (locked_until > :now) IS NOT TRUE
      ORDER BY next_call_time, id LIMIT :limit FOR UPDATE SKIP LOCKED) AS c
WHERE i.id = c.id
RETURNING i.*
