-- ARGV: the layout to upgrade from ('2'), the layout to write ('3').
-- Layout 3 keeps the status and removal indexes per name only: drops those across names
-- (`{p}:status:<status>`, `{p}:done:<status>`), which counts and listings now merge from the
-- per-name ones, and writes the new layout. Returns the layout stored before the call.
local stored = redis.call('GET', LAYOUT)
if stored ~= ARGV[1] then return stored or '' end
for _, status in ipairs(STATUSES) do
  redis.call('UNLINK', B .. ':status:' .. status, B .. ':done:' .. status)
end
redis.call('SET', LAYOUT, ARGV[2])
return stored
