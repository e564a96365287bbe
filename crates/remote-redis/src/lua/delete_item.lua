-- ARGV: id. Deletes the item; returns 1, or 0 when it did not exist.
local id = ARGV[1]
if redis.call('DEL', item_key(id)) == 0 then return 0 end
redis.call('ZREM', ITEMS, id)
redis.call('ZREM', DUE, id)
return 1
