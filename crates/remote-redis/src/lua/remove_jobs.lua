-- ARGV: finished_before ('': no bound), limit, names ('all' | 'only' | 'except'), the number k
-- of names listed, the k names, then the (final) statuses. Deletes up to `limit` jobs of those
-- statuses and names that reached them before `finished_before`, oldest completion first
-- (ties: smaller id), with their error records, releasing unique keys they held. Returns
-- {picked, status, n, ...}.
local min, max = '-inf', '+inf'
if ARGV[1] ~= '' then min, max = '(-inf', '(' .. ARGV[1] end
local limit = tonumber(ARGV[2])
local mode, k = ARGV[3], tonumber(ARGV[4])
local names = {}
if mode == 'only' then
  for j = 5, 4 + k do names[#names + 1] = ARGV[j] end
else
  local listed = {}
  for j = 5, 4 + k do listed[ARGV[j]] = true end
  for _, name in ipairs(redis.call('SMEMBERS', NAMES)) do
    if not listed[name] then names[#names + 1] = name end
  end
end
-- One source per status and name, each in removal order.
local sources = {}
for i = 5 + k, #ARGV do
  local status = ARGV[i]
  for _, name in ipairs(names) do
    sources[#sources + 1] = {key = done_name_key(status, name), status = status}
  end
end

-- Merges the sources (score, then id), each read a window at a time, so each is read only
-- as far as it is used.
local size = math.max(16, math.ceil(math.min(limit, 200) / math.max(#sources, 1)))
local streams = {}
for i, s in ipairs(sources) do
  streams[i] = windows(function(start, n)
    local found = redis.call('ZRANGEBYSCORE', s.key, min, max, 'WITHSCORES', 'LIMIT', start, n)
    local entries = {}
    for j = 1, #found, 2 do
      local score = -math.huge
      if found[j + 1] ~= '-inf' then score = tonumber(found[j + 1]) end
      entries[#entries + 1] = {id = found[j], score = score}
    end
    return entries
  end, size)
end
local nextm = merge(streams, function(a, b)
  return a.score < b.score or (a.score == b.score and before(a.id, b.id))
end)
local picked = {}
while #picked < limit do
  local entry, i = nextm()
  if not entry then break end
  picked[#picked + 1] = {id = entry.id, status = sources[i].status, source = sources[i].key}
end

local counts, order = {}, {}
for _, job in ipairs(picked) do
  local key = job_key(job.id)
  local f = redis.call('HMGET', key, 'job_name', 'list_key', 'unique_key', 'unique_across')
  if f[1] then
    redis.call('ZREM', JOBS, f[2])
    redis.call('ZREM', name_key(f[1]), f[2])
    move(job.id, f[1], f[2], job.status, nil)
    settle(job.id, f[3], f[4], job.status, nil)
    redis.call('DEL', key, errors_key(job.id))
    if not counts[job.status] then order[#order + 1] = job.status end
    counts[job.status] = (counts[job.status] or 0) + 1
  else
    -- an index entry without its job: drop it
    redis.call('ZREM', job.source, job.id)
  end
end
local answer = {#picked}
for _, status in ipairs(order) do
  answer[#answer + 1] = status
  answer[#answer + 1] = counts[status]
end
return answer
