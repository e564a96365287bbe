-- Jobs finished before a time, of the names chosen (R33), oldest first on
-- "{prefix}jobs_finished", locked until deleted.
SELECT id, status FROM {jobs}
WHERE completed_at < :before AND status = ANY(:statuses::text[])
  AND (:all_names OR (array_position(:names::text[], job_name) IS NOT NULL) <> :except_names)
ORDER BY completed_at, id LIMIT :limit FOR UPDATE SKIP LOCKED
