UPDATE {jobs} AS j SET lease_until = :lease_until
FROM unnest(:id::text[], :token::bigint[]) AS l (id, token)
WHERE j.id = l.id AND j.status = 'processing' AND j.lease_token = l.token
RETURNING j.id
