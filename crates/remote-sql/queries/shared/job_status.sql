-- The status a cancel starts from, the row locked until the cancel commits.
SELECT status FROM {jobs} WHERE id = :id FOR UPDATE
