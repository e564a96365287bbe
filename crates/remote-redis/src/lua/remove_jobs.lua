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
elseif mode == 'except' then
  local listed = {}
  for j = 5, 4 + k do listed[ARGV[j]] = true end
  for _, name in ipairs(redis.call('SMEMBERS', NAMES)) do
    if not listed[name] then names[#names + 1] = name end
  end
end
-- One source per status (every name) or per status and name, each in removal order.
local sources = {}
for i = 5 + k, #ARGV do
  local status = ARGV[i]
  if mode == 'all' then
    sources[#sources + 1] = {key = done_key(status), status = status, offset = 0}
  else
    for _, name in ipairs(names) do
      sources[#sources + 1] = {key = done_name_key(status, name), status = status, offset = 0}
    end
  end
end

-- Merges the sources (score, then id) in chunks, so each is read only as far as it is used.
local chunk = math.min(limit, 200)
local function fill(s)
  local found = redis.call('ZRANGEBYSCORE', s.key, min, max, 'WITHSCORES', 'LIMIT', s.offset,
    chunk)
  s.buf, s.pos = {}, 1
  for j = 1, #found, 2 do
    local score = -math.huge
    if found[j + 1] ~= '-inf' then score = tonumber(found[j + 1]) end
    s.buf[#s.buf + 1] = {id = found[j], score = score}
  end
  s.offset = s.offset + #s.buf
  s.last = #s.buf < chunk
end
local function head(s)
  if s.pos > #s.buf then
    if s.last then return nil end
    fill(s)
  end
  return s.buf[s.pos]
end
for _, s in ipairs(sources) do
  s.buf, s.pos, s.last = {}, 1, false
end
local picked = {}
while #picked < limit do
  local best, best_head
  for _, s in ipairs(sources) do
    local h = head(s)
    if h and (not best_head or h.score < best_head.score
        or (h.score == best_head.score and before(h.id, best_head.id))) then
      best, best_head = s, h
    end
  end
  if not best then break end
  best.pos = best.pos + 1
  picked[#picked + 1] = {id = best_head.id, status = best.status, source = best.key}
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
