-- ARGV: name, holder, until, now, has note ('1' | '0'), note (JSON text). Wins or renews the
-- named lease when it is free (never held, or ended at or before `now`) or held by `holder`:
-- writes the holder, its end and the note when given (R33). Returns 1, or 0 when another
-- holder has it.
local name, holder, ends, now = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local key = leader_key(name)
local f = redis.call('HMGET', key, 'holder', 'until')
if f[1] and f[1] ~= holder and (tonumber(f[2]) or 0) > now then return 0 end
redis.call('HSET', key, 'holder', holder, 'until', ends)
if ARGV[5] == '1' then redis.call('HSET', key, 'note', ARGV[6]) end
redis.call('ZADD', LEADERS, 0, name)
return 1
