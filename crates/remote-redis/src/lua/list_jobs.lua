-- ARGV: newest first ('1' | '0'), offset, count (-1: all), has name ('1' | '0'), name, then
-- the statuses (none: all). Returns the jobs passing the filters in (queued_at, id) order.
local newest = ARGV[1] == '1'
local offset, count = tonumber(ARGV[2]), tonumber(ARGV[3])
local name = ARGV[4] == '1' and ARGV[5] or nil
if count == 0 then return {} end
local sets = {}
if #ARGV < 6 then
  sets[1] = name and name_key(name) or JOBS
else
  for i = 6, #ARGV do
    sets[#sets + 1] = name and by_key(ARGV[i], name) or status_key(ARGV[i])
  end
end
local function range(key, start, stop)
  if newest then
    return redis.call('ZRANGE', key, string.format('%d', start), string.format('%d', stop), 'REV')
  end
  return redis.call('ZRANGE', key, string.format('%d', start), string.format('%d', stop))
end
local stop = -1
if count > 0 then stop = offset + count - 1 end
local members
if #sets == 1 then
  members = range(sets[1], offset, stop)
else
  local merged = {}
  for _, key in ipairs(sets) do
    for _, member in ipairs(range(key, 0, stop)) do merged[#merged + 1] = member end
  end
  table.sort(merged, function(a, b)
    if newest then return before(b, a) end
    return before(a, b)
  end)
  members = {}
  local last = #merged
  if count > 0 then last = math.min(last, offset + count) end
  for k = offset + 1, last do members[#members + 1] = merged[k] end
end
local jobs = {}
for _, member in ipairs(members) do
  local job = redis.call('HGETALL', job_key(id_of(member)))
  if #job > 0 then jobs[#jobs + 1] = job end
end
return jobs
