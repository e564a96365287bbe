-- What may keep jobs from being added (R1, R27): which of :ids are stored ('stored'), and
-- which stored jobs hold one of :keys ('held', with the key), found on the index of holders
-- (its predicate written as the index's is).
SELECT 'stored' AS kind, id, NULL AS unique_key FROM {jobs} WHERE id IN (SELECT value FROM json_each(:ids))
UNION ALL
SELECT 'held', id, unique_key FROM {jobs} INDEXED BY "{prefix}jobs_unique"
WHERE unique_key IN (SELECT value FROM json_each(:keys))
  AND unique_key IS NOT NULL
  AND (unique_across & CASE status WHEN 'queued' THEN 1 WHEN 'processing' THEN 2
       WHEN 'completed' THEN 4 WHEN 'cancelled' THEN 8 ELSE 16 END) <> 0
