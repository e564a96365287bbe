-- What may keep jobs from being added (R1, R27): which of :ids are stored ('stored'), and
-- which stored jobs hold one of :keys ('held', with the key): for each key up to two holders
-- (enough to tell whether a job other than a given one holds it), probed by the key's digest on
-- the index of holders, whose predicate the filter repeats; as many probes as keys, whatever
-- the size of the table. Each id is one probe of the primary key, as in `insert_jobs`.
SELECT 'stored' AS kind, s.id, NULL::text AS unique_key FROM unnest(:ids::text[]) AS i (id)
CROSS JOIN LATERAL (SELECT id FROM {jobs} WHERE id = i.id LIMIT 1) AS s
UNION ALL
SELECT 'held', h.id, h.unique_key FROM unnest(:keys::text[]) AS k (key)
CROSS JOIN LATERAL (
    SELECT id, unique_key FROM {jobs}
    WHERE unique_digest = decode(md5(k.key), 'hex') AND unique_key = k.key
      AND unique_key IS NOT NULL
      AND (unique_across & CASE status WHEN 'queued' THEN 1 WHEN 'processing' THEN 2
           WHEN 'completed' THEN 4 WHEN 'cancelled' THEN 8 ELSE 16 END) <> 0
    LIMIT 2
) AS h
