-- The paused job names and the times they were paused, as name/time pairs (R31).
return redis.call('HGETALL', PAUSED)
