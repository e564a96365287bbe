-- Finished jobs to remove, oldest first (NULL first), of the names chosen (R33), locked until
-- they are deleted.
SELECT id, status FROM {jobs}
WHERE JSON_CONTAINS(:statuses, JSON_QUOTE(status))
  AND (:all_names OR JSON_CONTAINS(:names, JSON_QUOTE(job_name)) <> :except_names)
ORDER BY completed_at, id LIMIT :limit FOR UPDATE SKIP LOCKED
