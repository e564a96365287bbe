-- Finished jobs to put back in the queue (R30): of the ids, statuses and names chosen, a chunk
-- at a time in id order after :after, locked until they are retried.
SELECT id, status, unique_key, unique_across FROM {jobs}
WHERE (:all_ids OR JSON_CONTAINS(:ids, JSON_QUOTE(id)))
  AND JSON_CONTAINS(:statuses, JSON_QUOTE(status))
  AND (:all_names OR JSON_CONTAINS(:names, JSON_QUOTE(job_name)) <> :except_names)
  AND id > :after
ORDER BY id LIMIT :limit FOR UPDATE
