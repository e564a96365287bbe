-- Puts finished jobs back in the queue with a fresh attempt budget (R30), skipping those whose
-- unique key another job holds. ARGV: the number s of statuses, the s statuses, names ('all' |
-- 'only' | 'except'), the number k of names listed, the k names, then either
--   'ids', then the ids: each job named whose status and name pass; or
--   'scan', a status, a name, after (the last member read, '': from the start), batch: up
--   to `batch` members of the index of that status and name after `after`, in listing order.
-- Returns {read, last member read, status, n, ...}, the counts being per status before.
local s = tonumber(ARGV[1])
local statuses = {}
for j = 2, 1 + s do statuses[ARGV[j]] = true end
local mode, k = ARGV[2 + s], tonumber(ARGV[3 + s])
local listed = {}
for j = 4 + s, 3 + s + k do listed[ARGV[j]] = true end
local function wanted(name)
  if mode == 'only' then return listed[name] == true end
  if mode == 'except' then return not listed[name] end
  return true
end
local at = 4 + s + k
local ids, last = {}, ''
if ARGV[at] == 'ids' then
  for j = at + 1, #ARGV do ids[#ids + 1] = ARGV[j] end
else
  local status, name, after, batch = ARGV[at + 1], ARGV[at + 2], ARGV[at + 3], ARGV[at + 4]
  local members = {}
  if status == 'processing' then
    -- no status index: the name's processing jobs from the lease index
    for _, member in ipairs(processing_members(name)) do
      if #members == tonumber(batch) then break end
      if after == '' or before(after, member) then members[#members + 1] = member end
    end
  else
    local from = '-'
    if after ~= '' then from = '(' .. after end
    members = redis.call('ZRANGE', by_key(status, name), from, '+', 'BYLEX', 'LIMIT', 0, batch)
  end
  for _, member in ipairs(members) do ids[#ids + 1] = id_of(member) end
  last = members[#members] or ''
end
local counts, order = {}, {}
for _, id in ipairs(ids) do
  local was = requeue(id, statuses, wanted)
  if was then
    if not counts[was] then order[#order + 1] = was end
    counts[was] = (counts[was] or 0) + 1
  end
end
if #order > 0 then redis.call('PUBLISH', WAKE, 'retried') end
local answer = {#ids, last}
for _, status in ipairs(order) do
  answer[#answer + 1] = status
  answer[#answer + 1] = counts[status]
end
return answer
