-- ARGV: now, lease_until, token, limit, then the job names (distinct).
-- Promotes the names' delayed jobs that are due, then takes up to `limit` jobs in pull order
-- (priority, queued_at, id) by merging the heads of the names' ready sets, read ahead a
-- window at a time. Returns the jobs claimed, in pull order, seven values each: pull key,
-- name, `spec` (nil for a hash written before layout 5, which the store reads back), the new
-- attempt, `not_before`, snoozes and unique key (absent ones nil). Everything else of a claimed
-- job is what the claim wrote; a whole hash returned through Lua would cost the server about
-- twice as much as these.
local now_ms = ARGV[1]
local now = tonumber(now_ms)
local lease_until, token, limit = ARGV[2], ARGV[3], tonumber(ARGV[4])
local names = {}
for i = 5, #ARGV do names[#names + 1] = ARGV[i] end

for _, name in ipairs(names) do
  local due = redis.call('ZRANGEBYSCORE', delayed_key(name), '-inf', now_ms)
  for _, id in ipairs(due) do
    redis.call('ZREM', delayed_key(name), id)
    local pull_key = redis.call('HGET', job_key(id), 'pull_key')
    if pull_key then redis.call('ZADD', ready_key(name), '0', pull_key) end
  end
end

-- Each name's ready set (every member scored 0, so in byte order) read ahead a window of up
-- to 100 members (no more than the claim takes), from after the last member read once a full
-- window is used up, so that a claim over many names reads little of the names it takes
-- few jobs from; `at[i]` is the place of name i's head in its window.
local size = math.min(limit, 100)
local windows, at = {}, {}
local function read_ahead(i, after)
  windows[i] = redis.call('ZRANGEBYLEX', ready_key(names[i]), after and '(' .. after or '-',
    '+', 'LIMIT', 0, size)
  at[i] = 1
end
local function head(i)
  local window = windows[i]
  if at[i] > #window and #window == size then
    read_ahead(i, window[#window])
    window = windows[i]
  end
  return window[at[i]]
end
for i = 1, #names do read_ahead(i, nil) end

local w = later()
local claimed, count = {}, 0
-- The last member taken from each name's ready set: every member up to it is taken.
local taken = {}
while count < limit do
  local best
  for i = 1, #names do
    if head(i) and (not best or before(head(i), head(best))) then best = i end
  end
  if not best then break end
  local member, name = head(best), names[best]
  at[best] = at[best] + 1
  taken[best] = member
  local id = id_of(member)
  local key = job_key(id)
  local f = redis.call('HMGET', key, 'status', 'not_before', 'unique_key', 'attempt', 'spec',
    'snoozes')
  if f[1] == 'queued' then
    if f[2] and tonumber(f[2]) > now then
      -- promoted by a claim whose clock was ahead: back to waiting
      redis.call('ZADD', delayed_key(name), f[2], id)
    else
      local attempt = tostring((tonumber(f[4]) or 0) + 1)
      redis.call('HSET', key, 'status', 'processing', 'picked_at', now_ms,
        'lease_until', lease_until, 'lease_token', token, 'attempt', attempt)
      move(id, name, list_key_of(member), 'queued', 'processing', nil, w)
      w.add('ZADD', LEASES, lease_until, id)
      settle(id, f[3], unique_across(key, f[3]), 'queued', 'processing')
      local n = 7 * count
      count = count + 1
      claimed[n + 1], claimed[n + 2], claimed[n + 3], claimed[n + 4] = member, name, f[5], attempt
      claimed[n + 5], claimed[n + 6], claimed[n + 7] = f[2], f[6], f[3]
    end
  end
end
for i, last in pairs(taken) do
  redis.call('ZREMRANGEBYLEX', ready_key(names[i]), '-', '[' .. last)
end
w.flush()
return claimed
