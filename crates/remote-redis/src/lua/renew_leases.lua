-- ARGV: lease_until, then per lease: id, token. Extends each lease still held; 1 or 0 each.
local lease_until = ARGV[1]
local answer = {}
local w = later()
for i = 2, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local key = job_key(id)
  local f = redis.call('HMGET', key, 'status', 'lease_token')
  if f[1] == 'processing' and f[2] == token then
    redis.call('HSET', key, 'lease_until', lease_until)
    w.add('ZADD', LEASES, lease_until, id)
    answer[#answer + 1] = 1
  else
    answer[#answer + 1] = 0
  end
end
w.flush()
return answer
