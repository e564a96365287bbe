-- Prelude of every script: the key layout under the hash-tagged base KEYS[1] ("{prefix}"), so
-- that every key of one store lies in one cluster slot, and the index moves that every state
-- change shares. The README's key table describes the same layout.
local B = KEYS[1]
local JOBS = B .. ':jobs'
local NAMES = B .. ':names'
local LEASES = B .. ':leases'
local ITEMS = B .. ':items'
local DUE = B .. ':due'
local WAKE = B .. ':wake'
local LAYOUT = B .. ':layout'
local UNIQ = B .. ':uniq'
local PAUSED = B .. ':paused'
local LEADERS = B .. ':leaders'
local function job_key(id) return B .. ':job:' .. id end
local function errors_key(id) return B .. ':errors:' .. id end
local function item_key(id) return B .. ':item:' .. id end
local STATUSES = {'queued', 'processing', 'completed', 'cancelled', 'error'}

-- Keys per name (and status), each built once per script call: a batch names the same few
-- keys for each of its jobs. `kind` is the key's infix, `part` a status or ''.
local built = {}
local function per_name(kind, part, name)
  local slot = kind .. part
  local keys = built[slot]
  if not keys then
    keys = {}
    built[slot] = keys
  end
  local key = keys[name]
  if not key then
    key = B .. slot .. name
    keys[name] = key
  end
  return key
end
local function ready_key(name) return per_name(':ready:', '', name) end
local function delayed_key(name) return per_name(':delayed:', '', name) end
local function name_key(name) return per_name(':name:', '', name) end
local function by_key(status, name) return per_name(':by:', status .. ':', name) end
local function done_name_key(status, name) return per_name(':done:', status .. ':', name) end
local function leader_key(name) return B .. ':leader:' .. name end

local FINAL = {completed = true, cancelled = true, error = true}
-- Each status's bit in a job's `unique_across`.
local BITS = {queued = 1, processing = 2, completed = 4, cancelled = 8, error = 16}

-- True when `a` sorts before `b` byte by byte, as sorted sets order their members (Lua's own
-- string comparison follows the server's collation locale).
local function before(a, b)
  if a == b then return false end
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

-- Merges ordered streams: each of `streams` is a function returning its next element (nil
-- once it has none), in the order `less`. Returns a function giving the smallest element not
-- yet given and the index of its stream (nil once every stream is done). A binary heap of
-- the streams' heads, so each element costs about log2(#streams) comparisons.
local function merge(streams, less)
  local heap = {}
  local function swap(i, j) heap[i], heap[j] = heap[j], heap[i] end
  local function down(i)
    while true do
      local l, r, m = 2 * i, 2 * i + 1, i
      if heap[l] and less(heap[l][1], heap[m][1]) then m = l end
      if heap[r] and less(heap[r][1], heap[m][1]) then m = r end
      if m == i then return end
      swap(i, m)
      i = m
    end
  end
  for i, next in ipairs(streams) do
    local v = next()
    if v ~= nil then
      heap[#heap + 1] = {v, i}
      local c = #heap
      while c > 1 and less(heap[c][1], heap[math.floor(c / 2)][1]) do
        swap(c, math.floor(c / 2))
        c = math.floor(c / 2)
      end
    end
  end
  return function()
    local top = heap[1]
    if not top then return nil end
    local v = streams[top[2]]()
    if v ~= nil then
      heap[1] = {v, top[2]}
    else
      heap[1] = heap[#heap]
      heap[#heap] = nil
    end
    if heap[1] then down(1) end
    return top[1], top[2]
  end
end

-- A stream for `merge` over a sorted set read a window at a time: `read(start, size)` returns
-- up to `size` members from position `start` (0-based).
local function windows(read, size)
  local start, buf, at, done = 0, {}, 1, false
  return function()
    if at > #buf then
      if done then return nil end
      buf, at = read(start, size), 1
      start = start + #buf
      done = #buf < size
      if #buf == 0 then return nil end
    end
    at = at + 1
    return buf[at - 1]
  end
end

-- The job id at the end of an ordering key (`<time>:<id>`, ids are 24 hex digits).
local function id_of(member) return string.sub(member, -24) end

-- The listing key inside a pull key: past its priority, 4 hex digits and `:` (codec.rs
-- builds both).
local function list_key_of(pull_key) return string.sub(pull_key, 6) end

-- Index writes gathered over a script and sent at its end as one variadic command per key
-- and command (in chunks of an even length that Lua's `unpack` takes, keeping ZADD's score
-- and member together), so that a batch costs a few commands per key instead of a few per
-- job. Only for writes whose order does not matter: a script never both adds and removes
-- the same member of one key through it.
local function later()
  local order, lists = {}, {}
  local w = {}
  -- Adds one value (`b` nil) or two to command `cmd`'s list for `key`.
  function w.add(cmd, key, a, b)
    local keys = lists[cmd]
    if not keys then
      keys = {}
      lists[cmd] = keys
    end
    local list = keys[key]
    if not list then
      list = {}
      keys[key] = list
      order[#order + 1] = {cmd, key, list}
    end
    local n = #list
    list[n + 1] = a
    if b ~= nil then list[n + 2] = b end
  end
  function w.flush()
    for _, c in ipairs(order) do
      local cmd, key, list = c[1], c[2], c[3]
      for i = 1, #list, 2000 do
        redis.call(cmd, key, unpack(list, i, math.min(i + 1999, #list)))
      end
    end
  end
  return w
end

-- Sends one index write of one value (`b` nil) or two now, or through `w` (from `later`) when
-- given.
local function write(w, cmd, key, a, b)
  if w then
    w.add(cmd, key, a, b)
  elseif b == nil then
    redis.call(cmd, key, a)
  else
    redis.call(cmd, key, a, b)
  end
end

-- Moves a job's status index entries (those of its name) from status `from` to status `to`
-- (either may be nil); a final status also scores the job by `completed_at` (-inf when unset)
-- for removals. Writes through `w` when given. Counts and listings across names merge the
-- per-name entries, so a change of status costs two writes, three for a final one. Processing
-- has no status index: the lease index holds every processing job (`processing_members`).
local function move(id, name, list_key, from, to, completed_at, w)
  if from == 'processing' then from = nil end
  if to == 'processing' then to = nil end
  if from then
    write(w, 'ZREM', by_key(from, name), list_key)
    if FINAL[from] then write(w, 'ZREM', done_name_key(from, name), id) end
  end
  if to then
    write(w, 'ZADD', by_key(to, name), '0', list_key)
    if FINAL[to] then write(w, 'ZADD', done_name_key(to, name), completed_at or '-inf', id) end
  end
end

-- The `unique_across` of the job at `key` when it has a unique key `unique_key` (nil
-- otherwise, where it matters to nothing): read only then, as few jobs have one.
local function unique_across(key, unique_key)
  if not unique_key then return nil end
  return redis.call('HGET', key, 'unique_across') or nil
end

-- True when a job whose `unique_across` bits are `across` (absent: queued and processing)
-- holds its unique key in `status`.
local function holds(across, status)
  return status ~= nil and bit.band(tonumber(across) or 3, BITS[status] or 0) ~= 0
end

-- Keeps `{p}:uniq` in step with a job that went from status `from` (nil: new) to status `to`
-- (nil: deleted): the job holds its unique key `unique_key` (nil: none) while its status is
-- one of its `unique_across` (R27). It takes the key when it starts holding it, and gives it
-- up when it stops, unless another job holds it by then; a change between two statuses that
-- both hold it, or that both do not, costs nothing.
local function settle(id, unique_key, across, from, to)
  if not unique_key then return end
  local held, holding = holds(across, from), holds(across, to)
  if holding and not held then
    redis.call('HSET', UNIQ, unique_key, id)
  elseif held and not holding and redis.call('HGET', UNIQ, unique_key) == id then
    redis.call('HDEL', UNIQ, unique_key)
  end
end

-- Puts a queued job in line: in its name's delayed set until `not_before`, else in its name's
-- ready set at its pull-order key. Writes through `w` when given.
local function enqueue(id, name, pull_key, not_before, w)
  if not_before then
    write(w, 'ZADD', delayed_key(name), not_before, id)
  else
    write(w, 'ZADD', ready_key(name), '0', pull_key)
  end
end

-- Takes a job out of line.
local function dequeue(id, name, pull_key)
  redis.call('ZREM', ready_key(name), pull_key)
  redis.call('ZREM', delayed_key(name), id)
end

-- Drops a job's entry in the lease index (written through `w` when given). The script ending
-- the lease also blanks `lease_until` and `lease_token` in the write that changes the job's
-- status (`LEASE_BLANK`), or deletes them with the other fields it clears.
local function unlease(id, w)
  write(w, 'ZREM', LEASES, id)
end
local LEASE_BLANK = {'lease_until', '', 'lease_token', ''}

-- Every processing job is in the lease index, scored by the end of its lease (+inf when it has
-- none), since processing has no status index. Returns the listing keys of the processing jobs
-- of `name` (of every name when nil) in listing order: O(processing jobs), which the workers'
-- claims bound.
local function processing_members(name)
  local members = {}
  for _, id in ipairs(redis.call('ZRANGE', LEASES, 0, -1)) do
    local f = redis.call('HMGET', job_key(id), 'job_name', 'list_key')
    if f[2] and (not name or f[1] == name) then members[#members + 1] = f[2] end
  end
  table.sort(members, before)
  return members
end

-- Puts job `id` back in the queue with a fresh attempt budget (R30) when its status is in the
-- set `statuses`, `wanted(name)` is true and no other job holds its unique key; returns the
-- status it had, or nil when it was left as it is.
local function requeue(id, statuses, wanted)
  local key = job_key(id)
  local f = redis.call('HMGET', key, 'status', 'job_name', 'list_key', 'pull_key', 'unique_key',
    'unique_across')
  local was, name = f[1], f[2]
  if not (was and statuses[was] and name and f[3] and f[4] and wanted(name)) then return nil end
  if f[5] and holds(f[6], 'queued') then
    local holder = redis.call('HGET', UNIQ, f[5])
    if holder and holder ~= id then return nil end
  end
  redis.call('HSET', key, 'status', 'queued', 'attempt', 0, 'snoozes', 0)
  redis.call('HDEL', key, 'not_before', 'output', 'completed_at', 'picked_at', 'lease_until',
    'lease_token')
  unlease(id)
  dequeue(id, name, f[4])
  move(id, name, f[3], was, 'queued')
  enqueue(id, name, f[4], nil)
  settle(id, f[5], f[6], was, 'queued')
  return was
end

-- Indexes a scheduler item as due at `next_call_time` when it is active and has one.
local function index_item(id, active, next_call_time)
  if active == '1' and next_call_time then
    redis.call('ZADD', DUE, next_call_time, id)
  else
    redis.call('ZREM', DUE, id)
  end
end

