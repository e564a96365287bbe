-- Every item, ordered by id.
local items = {}
for _, id in ipairs(redis.call('ZRANGE', ITEMS, 0, -1)) do
  local item = redis.call('HGETALL', item_key(id))
  if #item > 0 then items[#items + 1] = item end
end
return items
