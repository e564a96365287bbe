-- ARGV: id. The item's fields and values, empty for an unknown id.
return redis.call('HGETALL', item_key(ARGV[1]))
