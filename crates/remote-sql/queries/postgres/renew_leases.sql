-- Extends the leases of running attempts, each fenced by its own token.
-- The status test is wrapped in `coalesce` so that each entry finds its job by primary key,
-- not through the status or lease index and their dead entries (see record_outcomes.sql).
UPDATE {jobs} AS j SET lease_until = :lease_until
FROM unnest(:id::text[], :token::bigint[]) AS l (id, token)
WHERE j.id = l.id AND coalesce(j.status = 'processing', false) AND j.lease_token = l.token
RETURNING j.id
