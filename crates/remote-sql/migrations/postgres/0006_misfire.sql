-- The misfire policy of scheduler items (R34), JSON tagged by "policy" like the schedule is by
-- "kind": {"policy": "fire_once"}, {"policy": "skip"} or {"policy": "fire_each", "max": n}.
-- Items of earlier releases read back as fire_once, the rule they fired by.
ALTER TABLE {items} ADD COLUMN misfire json NOT NULL DEFAULT '{"policy": "fire_once"}';
