-- The locking read of a scheduler claim: due items, earliest first (R15), skipping items
-- another scheduler holds (R25).
SELECT * FROM {items} FORCE INDEX ({prefix}items_due)
WHERE active = TRUE AND next_call_time <= :now AND (locked_until > :now) IS NOT TRUE
ORDER BY next_call_time, id LIMIT :limit FOR UPDATE SKIP LOCKED
