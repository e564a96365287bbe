-- ARGV: newest first ('1' | '0'), offset, count (-1: all), has name ('1' | '0'), name, then
-- the statuses (none: all). Returns the jobs passing the filters in (queued_at, id) order.
local newest = ARGV[1] == '1'
local offset, count = tonumber(ARGV[2]), tonumber(ARGV[3])
local name = ARGV[4] == '1' and ARGV[5] or nil
if count == 0 then return {} end
-- One index when the name alone filters (or nothing does), else the status indexes of the
-- name (of every name when none is given), merged. Each source reads members by rank
-- (`read(start, stop)`, 0-based, inclusive, -1 the last) in the order asked; the processing
-- jobs, which have no status index, are one source read from the lease index.
local function from_key(key)
  return function(start, stop)
    local from, to = string.format('%d', start), string.format('%d', stop)
    if newest then return redis.call('ZRANGE', key, from, to, 'REV') end
    return redis.call('ZRANGE', key, from, to)
  end
end
local function from_list(list)
  return function(start, stop)
    if stop < 0 or stop >= #list then stop = #list - 1 end
    local slice = {}
    for r = start, stop do
      slice[#slice + 1] = newest and list[#list - r] or list[r + 1]
    end
    return slice
  end
end
local sources = {}
if #ARGV < 6 then
  sources[1] = from_key(name and name_key(name) or JOBS)
else
  local names = name and {name} or redis.call('SMEMBERS', NAMES)
  for i = 6, #ARGV do
    if ARGV[i] == 'processing' then
      sources[#sources + 1] = from_list(processing_members(name))
    else
      for _, n in ipairs(names) do sources[#sources + 1] = from_key(by_key(ARGV[i], n)) end
    end
  end
end
local members = {}
if #sources == 1 then
  local stop = -1
  if count > 0 then stop = offset + count - 1 end
  members = sources[1](offset, stop)
else
  -- Each source read a window at a time, no further than the page needs.
  local size = 100
  if count > 0 then size = math.min(offset + count, 100) end
  local streams = {}
  for i, read in ipairs(sources) do
    streams[i] = windows(function(start, n) return read(start, start + n - 1) end, size)
  end
  local nextm = merge(streams, function(a, b)
    if newest then return before(b, a) end
    return before(a, b)
  end)
  local skipped = 0
  while count < 0 or #members < count do
    local member = nextm()
    if not member then break end
    if skipped < offset then
      skipped = skipped + 1
    else
      members[#members + 1] = member
    end
  end
end
local jobs = {}
for _, member in ipairs(members) do
  local job = redis.call('HGETALL', job_key(id_of(member)))
  if #job > 0 then jobs[#jobs + 1] = job end
end
return jobs
