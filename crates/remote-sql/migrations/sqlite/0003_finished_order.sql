-- Removing jobs finished before a time, oldest first and a few at a time, walks this index
-- instead of sorting every finished job.
CREATE INDEX "{prefix}jobs_finished" ON {jobs} (completed_at, id) WHERE completed_at IS NOT NULL;
