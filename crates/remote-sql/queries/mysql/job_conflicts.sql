-- What may keep jobs from being added (R1, R27): which of :ids are stored ('stored'), and
-- which stored jobs hold one of :keys ('held', with the key), found by the key's SHA-256 on the
-- indexes of the two generated columns of holders.
SELECT 'stored' AS kind, j.id, NULL AS unique_key
FROM JSON_TABLE(:ids, '$[*]' COLUMNS (id CHAR(24) CHARACTER SET ascii COLLATE ascii_bin PATH '$')) AS l
STRAIGHT_JOIN {jobs} AS j FORCE INDEX (PRIMARY) ON j.id = l.id
UNION ALL
SELECT 'held', j.id, j.unique_key
FROM JSON_TABLE(:keys, '$[*]' COLUMNS (k LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin PATH '$')) AS l
STRAIGHT_JOIN {jobs} AS j FORCE INDEX ({prefix}jobs_unique)
    ON j.unique_holder = UNHEX(SHA2(l.k, 256)) AND j.unique_key = l.k
UNION ALL
SELECT 'held', j.id, j.unique_key
FROM JSON_TABLE(:keys, '$[*]' COLUMNS (k LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin PATH '$')) AS l
STRAIGHT_JOIN {jobs} AS j FORCE INDEX ({prefix}jobs_unique_loose)
    ON j.unique_loose = UNHEX(SHA2(l.k, 256)) AND j.unique_key = l.k
