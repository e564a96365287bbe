-- ARGV: id. The job's error records in order, or false for an unknown id.
if redis.call('EXISTS', job_key(ARGV[1])) == 0 then return false end
return redis.call('LRANGE', errors_key(ARGV[1]), 0, -1)
