-- ARGV: the layout to upgrade from ('3'), the layout to write ('4').
-- Layout 4 has no status index of processing jobs: the lease index holds every one of them,
-- at +inf when it has no lease. Adds the processing jobs without a lease entry to it, drops
-- `{p}:by:processing:<name>` and writes the new layout. Returns the layout stored before the
-- call.
local stored = redis.call('GET', LAYOUT)
if stored ~= ARGV[1] then return stored or '' end
for _, name in ipairs(redis.call('SMEMBERS', NAMES)) do
  local key = by_key('processing', name)
  for _, member in ipairs(redis.call('ZRANGE', key, 0, -1)) do
    local id = id_of(member)
    if not redis.call('ZSCORE', LEASES, id) then redis.call('ZADD', LEASES, '+inf', id) end
  end
  redis.call('UNLINK', key)
end
redis.call('SET', LAYOUT, ARGV[2])
return stored
