-- Job features (R26–R33): a priority, a unique key and the statuses it is held across (bits:
-- queued 1, processing 2, completed 4, cancelled 8, error 16), a timeout and a snooze count;
-- paused job names and named maintenance leases. Rows of earlier releases read back with
-- priority 0, no key, unique_across 3 (queued and processing), no timeout and no snoozes.
ALTER TABLE {jobs} ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE {jobs} ADD COLUMN unique_key TEXT;
ALTER TABLE {jobs} ADD COLUMN unique_across INTEGER NOT NULL DEFAULT 3;
ALTER TABLE {jobs} ADD COLUMN timeout_ms INTEGER;
ALTER TABLE {jobs} ADD COLUMN snoozes INTEGER NOT NULL DEFAULT 0;

-- The claim: queued jobs in pull order, highest priority first (R2, R26), covering what the
-- filter needs.
DROP INDEX "{prefix}jobs_claim";
CREATE INDEX "{prefix}jobs_claim" ON {jobs} (priority DESC, queued_at, id, job_name, not_before)
    WHERE status = 'queued';

-- Unique keys (R27). A job holds its key while its status is in its unique_across; the index
-- holds the holders. A job whose set has queued (and so processing) takes its key only when
-- added or retried, where the store checks it: such holders share the second column (''), so
-- one holds a key at a time and concurrent adds of one key store one job. A job whose set lacks
-- them takes its key by a change of status nobody checks (a claim, an outcome, a cancel): such
-- holders are told apart by their id, so several may hold one key and no change of status is
-- refused.
CREATE UNIQUE INDEX "{prefix}jobs_unique" ON {jobs}
    (unique_key, (CASE WHEN (unique_across & 3) = 3 THEN '' ELSE id END))
    WHERE unique_key IS NOT NULL
      AND (unique_across & CASE status WHEN 'queued' THEN 1 WHEN 'processing' THEN 2
           WHEN 'completed' THEN 4 WHEN 'cancelled' THEN 8 ELSE 16 END) <> 0;

-- Job names whose jobs are not claimed (R31), and named leases one process holds at a time
-- (R33).
CREATE TABLE {paused} (
    name  TEXT NOT NULL PRIMARY KEY,
    since INTEGER NOT NULL
);
CREATE TABLE {leaders} (
    name   TEXT NOT NULL PRIMARY KEY,
    holder TEXT NOT NULL,
    until  INTEGER NOT NULL,
    note   TEXT
);
