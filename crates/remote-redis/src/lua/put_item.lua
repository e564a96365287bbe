-- ARGV: mode ('insert' | 'update'), id, then the item's field/value pairs (absent fields left
-- out). Inserts a new item or replaces a stored one; returns 0 (nothing written) when the item
-- exists on insert or is missing on update, else 1.
local mode, id = ARGV[1], ARGV[2]
local key = item_key(id)
local exists = redis.call('EXISTS', key) == 1
if (mode == 'insert') == exists then return 0 end
local args, f = {}, {}
for i = 3, #ARGV, 2 do
  args[#args + 1] = ARGV[i]
  args[#args + 1] = ARGV[i + 1]
  f[ARGV[i]] = ARGV[i + 1]
end
redis.call('DEL', key)
redis.call('HSET', key, unpack(args))
redis.call('ZADD', ITEMS, 0, id)
index_item(id, f.active, f.next_call_time)
return 1
