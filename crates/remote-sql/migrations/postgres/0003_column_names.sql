-- The names of the store contract: attempts started and allowed, the time before which a job
-- is not pulled, a scheduler item's lock. Indexes follow their columns.
ALTER TABLE {jobs} RENAME COLUMN retry_counter TO attempt;
ALTER TABLE {jobs} RENAME COLUMN max_retries TO max_attempts;
ALTER TABLE {jobs} RENAME COLUMN retry_time TO not_before;
ALTER TABLE {items} RENAME COLUMN retry_time TO locked_until;
ALTER TABLE {items} RENAME COLUMN retry_delay_ms TO lock_duration_ms;
