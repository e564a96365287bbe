-- The misfire policy of scheduler items (R34), JSON text tagged by "policy" like the schedule
-- is by "kind": {"policy": "fire_once"}, {"policy": "skip"} or {"policy": "fire_each",
-- "max": n}. Items of earlier releases read back as fire_once, the rule they fired by. The
-- default is an expression, the form a TEXT column takes one in on MariaDB and MySQL alike.
-- It may run again after a migration cut short.
ALTER TABLE {items}
    ADD COLUMN IF NOT EXISTS misfire LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL
        DEFAULT ('{"policy": "fire_once"}');
