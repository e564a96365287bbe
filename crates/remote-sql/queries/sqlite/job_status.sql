-- The status a cancel starts from; the transaction holds the file's write lock.
SELECT status FROM {jobs} WHERE id = :id
