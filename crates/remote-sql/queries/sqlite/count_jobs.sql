-- Jobs by status, each count read off an index rather than the rows: queued jobs off the claim
-- index, running ones off the lease index, failed and cancelled ones off theirs, and completed
-- ones as what the count of all jobs leaves. One statement reads one snapshot.
WITH c AS (
    SELECT (SELECT count(*) FROM {jobs}) AS total,
        (SELECT count(*) FROM {jobs} WHERE status = 'queued') AS queued,
        (SELECT count(*) FROM {jobs} WHERE status = 'processing') AS processing
), f AS (
    SELECT status, count(*) AS n FROM {jobs} WHERE status IN ('error', 'cancelled')
    GROUP BY status
)
SELECT status, n FROM (
    SELECT 'queued' AS status, queued AS n FROM c
    UNION ALL SELECT 'processing', processing FROM c
    UNION ALL SELECT status, n FROM f
    UNION ALL SELECT 'completed', total - queued - processing - (SELECT coalesce(sum(n), 0) FROM f)
        FROM c
)
WHERE n > 0
