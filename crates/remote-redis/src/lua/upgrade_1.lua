-- ARGV: the layout to upgrade from ('1'), the layout to write ('2'), the pull-key prefix of
-- priority 0, after (the last listing key done, '': from the start), batch.
-- Upgrades up to `batch` jobs after `after` in listing order from layout 1: pull keys gain
-- their priority prefix (in the job and in its ready set), finished jobs join the removal
-- index of their name. Jobs already upgraded are left as they are, so concurrent upgrades are
-- harmless. Writes the new layout once every job is done. Returns {1, layout} when the store
-- is at another layout than `from` (done), else {0, the last listing key done}.
local from, to, prefix, after, batch = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local stored = redis.call('GET', LAYOUT)
if stored ~= from then return {1, stored or ''} end
local start = '-'
if after ~= '' then start = '(' .. after end
local members = redis.call('ZRANGE', JOBS, start, '+', 'BYLEX', 'LIMIT', 0, batch)
for _, member in ipairs(members) do
  local id = id_of(member)
  local key = job_key(id)
  local f = redis.call('HMGET', key, 'status', 'job_name', 'pull_key', 'completed_at')
  local status, name, old = f[1], f[2], f[3]
  if status and name and old and string.sub(old, 5, 5) ~= ':' then
    local new = prefix .. old
    redis.call('HSET', key, 'pull_key', new)
    if redis.call('ZREM', ready_key(name), old) == 1 then
      redis.call('ZADD', ready_key(name), 0, new)
    end
  end
  if status and name and FINAL[status] then
    redis.call('ZADD', done_name_key(status, name), f[4] or '-inf', id)
  end
end
if #members < batch then
  redis.call('SET', LAYOUT, to)
  return {1, to}
end
return {0, members[#members]}
