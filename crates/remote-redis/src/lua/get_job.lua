-- ARGV: id. The job's fields and values, empty for an unknown id.
return redis.call('HGETALL', job_key(ARGV[1]))
