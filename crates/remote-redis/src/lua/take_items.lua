-- ARGV: per take 5 values: id, expected next_call_time, expected locked_until, next_call_time
-- and locked_until to write ('': none). Writes each take whose item is active and still has
-- the expected times; returns 1 or 0 each.
local answer = {}
for i = 1, #ARGV, 5 do
  local id = ARGV[i]
  local key = item_key(id)
  local f = redis.call('HMGET', key, 'active', 'next_call_time', 'locked_until')
  if f[1] == '1' and f[2] == ARGV[i + 1] and f[3] == ARGV[i + 2] then
    local next_call_time = ARGV[i + 3]
    if next_call_time == '' then
      next_call_time = nil
      redis.call('HDEL', key, 'next_call_time')
    else
      redis.call('HSET', key, 'next_call_time', next_call_time)
    end
    if ARGV[i + 4] == '' then
      redis.call('HDEL', key, 'locked_until')
    else
      redis.call('HSET', key, 'locked_until', ARGV[i + 4])
    end
    index_item(id, '1', next_call_time)
    answer[#answer + 1] = 1
  else
    answer[#answer + 1] = 0
  end
end
return answer
