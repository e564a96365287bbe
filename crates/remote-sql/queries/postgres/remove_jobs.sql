-- Deletes the jobs of :ids. The ids go in as an array the planner cannot see into, so it
-- expects a few and probes the primary key for each: given the parameter itself, a table
-- without statistics makes it expect half the rows and scan every one, comparing each with
-- every id (a cost that grows with the table, not with the ids).
DELETE FROM {jobs} WHERE id = ANY(ARRAY(SELECT unnest(:ids::text[])))
