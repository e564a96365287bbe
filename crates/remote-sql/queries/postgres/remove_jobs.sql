-- Deletes the jobs of :ids. The ids go in as an array the planner cannot see into, so it
-- expects a few and probes the primary key for each: given the parameter itself, it may judge
-- one scan of a table without statistics cheaper than a probe per id, and the scan compares
-- every row with every id (a cost that grows with the table, not with the ids).
DELETE FROM {jobs} WHERE id = ANY(ARRAY(SELECT unnest(:ids::text[])))
