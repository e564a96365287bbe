-- ARGV: the layout version this build writes. Returns the stored version, writing it first
-- into a store that has none.
local stored = redis.call('GET', LAYOUT)
if not stored then
  redis.call('SET', LAYOUT, ARGV[1])
  return ARGV[1]
end
return stored
