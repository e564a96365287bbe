-- Finished jobs to put back in the queue (R30): of the ids, statuses and names chosen, a chunk
-- at a time in id order after :after, locked until they are retried.
SELECT id, status, unique_key, unique_across FROM {jobs}
WHERE (:all_ids OR id = ANY(:ids::text[])) AND status = ANY(:statuses::text[])
  AND (:all_names OR (array_position(:names::text[], job_name) IS NOT NULL) <> :except_names)
  AND id > :after
ORDER BY id LIMIT :limit FOR UPDATE
