-- The number of jobs of each status, in the order queued, processing, completed, cancelled,
-- error: the sizes of the status indexes of every name, and of the lease index, which holds
-- every processing job.
local names = redis.call('SMEMBERS', NAMES)
local counts = {}
for i, status in ipairs(STATUSES) do
  local n = 0
  if status == 'processing' then
    n = redis.call('ZCARD', LEASES)
  else
    for _, name in ipairs(names) do n = n + redis.call('ZCARD', by_key(status, name)) end
  end
  counts[i] = n
end
return counts
