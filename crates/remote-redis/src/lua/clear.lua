-- ARGV: batch size. Deletes up to a batch of jobs with their error records; once none is
-- left, every other key of the store. Returns the number of jobs deleted (a full batch: call
-- again).
local batch = tonumber(ARGV[1])
local members = redis.call('ZRANGE', JOBS, 0, batch - 1)
for _, member in ipairs(members) do
  local id = id_of(member)
  redis.call('DEL', job_key(id), errors_key(id))
  redis.call('ZREM', JOBS, member)
end
if #members == batch then return #members end
for _, id in ipairs(redis.call('ZRANGE', ITEMS, 0, -1)) do redis.call('DEL', item_key(id)) end
for _, name in ipairs(redis.call('SMEMBERS', NAMES)) do
  redis.call('DEL', ready_key(name), delayed_key(name), name_key(name))
  for _, status in ipairs(STATUSES) do
    redis.call('DEL', by_key(status, name), done_name_key(status, name))
  end
end
for _, name in ipairs(redis.call('ZRANGE', LEADERS, 0, -1)) do redis.call('DEL', leader_key(name)) end
redis.call('DEL', NAMES, LEASES, ITEMS, DUE, UNIQ, PAUSED, LEADERS, LAYOUT)
return #members
