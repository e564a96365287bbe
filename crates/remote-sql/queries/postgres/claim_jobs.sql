-- Claims due jobs in pull order (R2, R26): highest priority, then oldest, then smallest id;
-- skipping rows other claimers hold. The candidates walk the partial index
-- "{prefix}jobs_claim", keyed on `priority DESC, queued_at AT TIME ZONE 'UTC', id`, an order no
-- other index gives. The filters are written so that a planner without statistics (a new
-- table) takes them to pass most rows, as they do, and walks that index rather than sorting
-- the queue: `= ANY` and `IS NULL OR` would each be guessed to pass 0.5 % of rows.
-- The ids taken are gathered into an array first, so that the update finds each by its
-- primary key: joined with them instead, a claim of a few hundred jobs was planned as a hash
-- join over a scan of the whole table.
UPDATE {jobs} AS j
SET status = 'processing', picked_at = :now, attempt = j.attempt + 1,
    lease_until = :lease_until, lease_token = :token
WHERE j.id = ANY(ARRAY(
    SELECT id FROM {jobs}
    WHERE status = 'queued' AND array_position(:names::text[], job_name) IS NOT NULL
      AND (not_before > :now) IS NOT TRUE
    ORDER BY priority DESC, (queued_at AT TIME ZONE 'UTC'), id LIMIT :limit
    FOR UPDATE SKIP LOCKED))
RETURNING j.*
