-- The number of jobs of each status, in the order queued, processing, completed, cancelled,
-- error.
local counts = {}
for i, status in ipairs(STATUSES) do counts[i] = redis.call('ZCARD', status_key(status)) end
return counts
