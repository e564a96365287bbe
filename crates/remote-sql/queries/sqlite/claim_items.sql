-- Locks due items, earliest first (R15); writers take the file's lock one at a time (R25).
UPDATE {items} SET locked_until = :locked_until
WHERE id IN (SELECT id FROM {items}
    WHERE active AND next_call_time <= :now AND (locked_until > :now) IS NOT TRUE
    ORDER BY next_call_time, id LIMIT :limit)
RETURNING *
