-- Every named lease, by name: per lease its name, then its fields and values (R33).
local leases = {}
for _, name in ipairs(redis.call('ZRANGE', LEADERS, 0, -1)) do
  leases[#leases + 1] = {name, redis.call('HGETALL', leader_key(name))}
end
return leases
