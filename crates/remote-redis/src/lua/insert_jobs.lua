-- ARGV: on_conflict ('refuse' | 'skip'), then per job: its id, the number n of its
-- field/value pairs, and the n pairs (absent fields left out).
-- Returns {0, id} when a refused id is stored already or repeated, having written nothing;
-- else {1, a1, a2, ...}: 1 for each job inserted, 0 for each skipped (its id is stored or came
-- earlier in the batch), or the id of the job holding its unique key (R27), a stored one or an
-- earlier one of the batch.
local refuse = ARGV[1] == 'refuse'
local jobs, ids, keys = {}, {}, {}
local i = 2
while i <= #ARGV do
  local id = ARGV[i]
  local first, last = i + 2, i + 1 + 2 * tonumber(ARGV[i + 1])
  local f = {}
  for j = first, last, 2 do f[ARGV[j]] = ARGV[j + 1] end
  local answer = 1
  if ids[id] or redis.call('EXISTS', job_key(id)) == 1 then
    if refuse then return {0, id} end
    answer = 0
  elseif f.unique_key and holds(f.unique_across, f.status) then
    local holder = keys[f.unique_key] or redis.call('HGET', UNIQ, f.unique_key)
    if holder then
      answer = holder
    else
      keys[f.unique_key] = id
    end
  end
  if answer == 1 then ids[id] = true end
  jobs[#jobs + 1] = {id = id, first = first, last = last, f = f, answer = answer}
  i = last + 1
end
local answer = {1}
local any = false
local w = later()
local named = {}
for _, job in ipairs(jobs) do
  if job.answer == 1 then
    local f = job.f
    redis.call('HSET', job_key(job.id), unpack(ARGV, job.first, job.last))
    w.add('ZADD', JOBS, '0', f.list_key)
    w.add('ZADD', name_key(f.job_name), '0', f.list_key)
    if not named[f.job_name] then
      named[f.job_name] = true
      w.add('SADD', NAMES, f.job_name)
    end
    move(job.id, f.job_name, f.list_key, nil, f.status, f.completed_at, w)
    if f.status == 'queued' then
      enqueue(job.id, f.job_name, f.pull_key, f.not_before, w)
    elseif f.status == 'processing' then
      w.add('ZADD', LEASES, f.lease_until or '+inf', job.id)
    end
    settle(job.id, f.unique_key, f.unique_across, nil, f.status)
    any = true
  end
  answer[#answer + 1] = job.answer
end
w.flush()
if any then redis.call('PUBLISH', WAKE, 'added') end
return answer
