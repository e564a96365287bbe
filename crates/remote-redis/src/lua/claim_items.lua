-- ARGV: now, locked_until, limit. Locks up to `limit` items due at `now` (active, next call
-- time reached, not locked past `now`), earliest next call time first (ties: smaller id);
-- returns them as stored.
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[3])
local claimed = {}
local offset = 0
while #claimed < limit do
  local ids = redis.call('ZRANGEBYSCORE', DUE, '-inf', ARGV[1], 'LIMIT', offset, 100)
  if #ids == 0 then break end
  for _, id in ipairs(ids) do
    local key = item_key(id)
    local f = redis.call('HMGET', key, 'active', 'locked_until')
    if f[1] == '1' and (not f[2] or tonumber(f[2]) <= now) then
      redis.call('HSET', key, 'locked_until', ARGV[2])
      claimed[#claimed + 1] = redis.call('HGETALL', key)
      if #claimed >= limit then break end
    end
  end
  offset = offset + #ids
end
return claimed
