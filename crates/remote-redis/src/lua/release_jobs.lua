-- ARGV: per lease: id, token. Hands each job processing under its token back to the queue as
-- if never claimed; returns 1 or 0 each, and wakes idle workers when any was released.
local answer = {}
local any = false
local w = later()
for i = 1, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local key = job_key(id)
  local f = redis.call('HMGET', key, 'status', 'lease_token', 'attempt', 'job_name', 'list_key',
    'pull_key', 'not_before', 'unique_key', 'unique_across')
  if f[1] == 'processing' and f[2] == token and f[4] and f[5] and f[6] then
    unlease(id, w)
    local attempt = math.max((tonumber(f[3]) or 0) - 1, 0)
    redis.call('HSET', key, 'status', 'queued', 'attempt', attempt, unpack(LEASE_BLANK))
    if attempt == 0 then redis.call('HDEL', key, 'picked_at') end
    move(id, f[4], f[5], 'processing', 'queued', nil, w)
    enqueue(id, f[4], f[6], f[7] or nil, w)
    settle(id, f[8], f[9], 'processing', 'queued')
    any = true
    answer[#answer + 1] = 1
  else
    answer[#answer + 1] = 0
  end
end
w.flush()
if any then redis.call('PUBLISH', WAKE, 'released') end
return answer
