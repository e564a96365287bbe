-- Attempts whose worker was lost, on the lease index.
SELECT * FROM {jobs} WHERE status = 'processing' AND lease_until <= :now
ORDER BY lease_until, id LIMIT :limit
