UPDATE {jobs} SET status = 'cancelled', completed_at = :now, lease_until = NULL, lease_token = NULL
WHERE id = :id
