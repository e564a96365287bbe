-- ARGV: now, limit. Returns up to `limit` processing jobs whose lease ended at or before
-- `now`, oldest lease first (ties: smaller id).
local ids = redis.call('ZRANGEBYSCORE', LEASES, '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local jobs = {}
for _, id in ipairs(ids) do
  local job = redis.call('HGETALL', job_key(id))
  if #job > 0 then jobs[#jobs + 1] = job end
end
return jobs
