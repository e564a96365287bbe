-- Locks due items, earliest first (R15); items another scheduler holds are skipped (R25).
-- The ids taken are gathered into an array first, so that the update finds each by its
-- primary key rather than joining them with a scan of the whole table.
UPDATE {items} AS i SET locked_until = :locked_until
WHERE i.id = ANY(ARRAY(
    SELECT id FROM {items}
    WHERE active AND next_call_time <= :now AND (locked_until > :now) IS NOT TRUE
    ORDER BY next_call_time, id LIMIT :limit FOR UPDATE SKIP LOCKED))
RETURNING i.*
