-- Finished jobs to put back in the queue (R30): of the ids, statuses and names chosen, a chunk
-- at a time in id order after :after; the transaction holds the file's write lock.
SELECT id, status, unique_key, unique_across FROM {jobs}
WHERE (:all_ids OR id IN (SELECT value FROM json_each(:ids)))
  AND status IN (SELECT value FROM json_each(:statuses))
  AND (:all_names OR (job_name IN (SELECT value FROM json_each(:names))) <> :except_names)
  AND id > :after
ORDER BY id LIMIT :limit
