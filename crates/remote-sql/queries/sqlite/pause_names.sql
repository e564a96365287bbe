-- Pauses job names (R31); a name paused already keeps its time.
INSERT INTO {paused} (name, since)
SELECT DISTINCT value, :now FROM json_each(:names) WHERE true
ON CONFLICT (name) DO NOTHING
