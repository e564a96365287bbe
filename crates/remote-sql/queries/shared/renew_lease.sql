UPDATE {jobs} SET lease_until = :lease_until
WHERE id = :id AND status = 'processing' AND lease_token = :token
