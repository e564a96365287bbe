-- Pauses job names (R31); a name paused already keeps its time.
INSERT INTO {paused} (name, since)
SELECT DISTINCT l.name, :now
FROM JSON_TABLE(:names, '$[*]' COLUMNS (name LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin PATH '$')) AS l
ON DUPLICATE KEY UPDATE since = {paused}.since
