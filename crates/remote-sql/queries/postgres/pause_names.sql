-- Pauses job names (R31); a name paused already keeps its time.
INSERT INTO {paused} (name, since)
SELECT DISTINCT name, :now::timestamptz FROM unnest(:names::text[]) AS name
ON CONFLICT (name) DO NOTHING
