-- ARGV: id, now, then the cancellable statuses. Cancels the job when its status is one of
-- them; returns the status it had, or false for an unknown id.
local id, now = ARGV[1], ARGV[2]
local key = job_key(id)
local f = redis.call('HMGET', key, 'status', 'job_name', 'list_key', 'pull_key', 'unique_key',
  'unique_across')
local was = f[1]
if not was then return false end
if not (f[2] and f[3] and f[4]) then
  return redis.error_reply('job ' .. id .. ' is stored without its name or ordering keys')
end
for i = 3, #ARGV do
  if ARGV[i] == was then
    redis.call('HSET', key, 'status', 'cancelled', 'completed_at', now, unpack(LEASE_BLANK))
    unlease(id)
    dequeue(id, f[2], f[4])
    move(id, f[2], f[3], was, 'cancelled', now)
    settle(id, f[5], f[6], was, 'cancelled')
    break
  end
end
return was
