-- Finished jobs to remove, oldest first, of the names chosen (R33), locked until they are
-- deleted.
SELECT id, status FROM {jobs}
WHERE status = ANY(:statuses::text[])
  AND (:all_names OR (array_position(:names::text[], job_name) IS NOT NULL) <> :except_names)
ORDER BY completed_at NULLS FIRST, id LIMIT :limit FOR UPDATE SKIP LOCKED
