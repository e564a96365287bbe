-- Job features (R26–R33): a priority, a unique key and the statuses it is held across (bits:
-- queued 1, processing 2, completed 4, cancelled 8, error 16), a timeout and a snooze count;
-- paused job names and named maintenance leases. Rows of earlier releases read back with
-- priority 0, no key, unique_across 3 (queued and processing), no timeout and no snoozes.
--
-- Unique keys (R27): a job holds its key while its status is in its unique_across. MySQL has
-- no partial indexes, so generated columns hold the SHA-256 of the key while the job holds it
-- and NULL otherwise (NULLs may repeat in a unique index; a hash, since a key may be longer than
-- an index entry can be). A job whose set has queued (and so processing) takes its key only
-- when added or retried, where the store checks it: these holders are unique (unique_holder),
-- so concurrent adds of one key store one job. A job whose set lacks them takes its key by a
-- change of status nobody checks (a claim, an outcome, a cancel): these holders (unique_loose)
-- are only indexed, to be found, and may repeat, so no change of status is refused. (One index
-- telling them apart by id, as on PostgreSQL and SQLite, would need a generated column reading
-- the CHAR id through a function, which MariaDB refuses.)
--
-- The claim index keys priority descending (MariaDB ≥ 10.8, MySQL 8), so the claim walks it in
-- pull order (R2, R26). Every statement may run again after a migration cut short.
ALTER TABLE {jobs}
    ADD COLUMN IF NOT EXISTS priority SMALLINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS unique_key LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin,
    ADD COLUMN IF NOT EXISTS unique_across SMALLINT NOT NULL DEFAULT 3,
    ADD COLUMN IF NOT EXISTS timeout_ms BIGINT,
    ADD COLUMN IF NOT EXISTS snoozes INT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS unique_holder BINARY(32) AS (IF(unique_key IS NOT NULL
        AND (unique_across & 3) = 3
        AND (unique_across & CASE status WHEN 'queued' THEN 1 WHEN 'processing' THEN 2
             WHEN 'completed' THEN 4 WHEN 'cancelled' THEN 8 ELSE 16 END) <> 0,
        UNHEX(SHA2(unique_key, 256)), NULL)) STORED,
    ADD COLUMN IF NOT EXISTS unique_loose BINARY(32) AS (IF(unique_key IS NOT NULL
        AND (unique_across & 3) <> 3
        AND (unique_across & CASE status WHEN 'queued' THEN 1 WHEN 'processing' THEN 2
             WHEN 'completed' THEN 4 WHEN 'cancelled' THEN 8 ELSE 16 END) <> 0,
        UNHEX(SHA2(unique_key, 256)), NULL)) STORED,
    DROP INDEX IF EXISTS {prefix}jobs_claim,
    ADD INDEX {prefix}jobs_claim (status, priority DESC, queued_at, id),
    ADD UNIQUE INDEX IF NOT EXISTS {prefix}jobs_unique (unique_holder),
    ADD INDEX IF NOT EXISTS {prefix}jobs_unique_loose (unique_loose);

-- Job names whose jobs are not claimed (R31), and named leases one process holds at a time
-- (R33). Names of any length are keyed by their SHA-256.
CREATE TABLE IF NOT EXISTS {paused} (
    name TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
    name_key BINARY(32) AS (UNHEX(SHA2(name, 256))) STORED,
    since BIGINT NOT NULL,
    UNIQUE KEY {prefix}paused_name (name_key)
) ENGINE = InnoDB;

CREATE TABLE IF NOT EXISTS {leaders} (
    name TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
    name_key BINARY(32) AS (UNHEX(SHA2(name, 256))) STORED,
    holder TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
    until BIGINT NOT NULL,
    note LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
    UNIQUE KEY {prefix}leaders_name (name_key)
) ENGINE = InnoDB;
