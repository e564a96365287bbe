-- ARGV: rescue ('1': only while the lease has ended at the entry's `now`; '0': always), then
-- per outcome 6 values: id, token, now, kind ('completed' | 'retry' | 'failed' | 'snooze'),
-- payload (the output's JSON text, the error record's, or ''), not_before (retry and snooze,
-- else '').
-- Applies each entry whose job is processing under its token, in order; returns 1 or 0 each.
local rescue = ARGV[1] == '1'
local w = later()
local answer = {}
for i = 2, #ARGV, 6 do
  local id, token, now, kind, payload, not_before =
    ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  local key = job_key(id)
  -- Each field read costs the server about as much as an index write: only those every
  -- outcome needs are read at once, the others when the entry needs them.
  local f = redis.call('HMGET', key, 'status', 'lease_token', 'job_name', 'list_key',
    'unique_key')
  local applies = f[1] == 'processing' and f[2] == token and f[3] and f[4]
  if applies and rescue then
    local ends = redis.call('HGET', key, 'lease_until')
    if ends and ends ~= '' then applies = tonumber(ends) <= tonumber(now) end
  end
  local pull_key, attempt
  if applies and (kind == 'retry' or kind == 'snooze') then
    local g = redis.call('HMGET', key, 'pull_key', 'attempt')
    pull_key, attempt = g[1], g[2]
    applies = pull_key ~= false
  end
  if applies then
    local name, list_key = f[3], f[4]
    local to
    unlease(id, w)
    if kind == 'completed' then
      to = 'completed'
      redis.call('HSET', key, 'status', to, 'output', payload, 'completed_at', now,
        unpack(LEASE_BLANK))
      move(id, name, list_key, 'processing', to, now, w)
    elseif kind == 'retry' or kind == 'snooze' then
      to = 'queued'
      redis.call('HSET', key, 'status', to, 'not_before', not_before, unpack(LEASE_BLANK))
      if kind == 'retry' then
        redis.call('RPUSH', errors_key(id), payload)
      else
        redis.call('HSET', key, 'attempt', math.max((tonumber(attempt) or 0) - 1, 0))
        redis.call('HINCRBY', key, 'snoozes', 1)
      end
      move(id, name, list_key, 'processing', to, nil, w)
      enqueue(id, name, pull_key, not_before, w)
    else
      to = 'error'
      redis.call('HSET', key, 'status', to, 'completed_at', now, unpack(LEASE_BLANK))
      redis.call('RPUSH', errors_key(id), payload)
      move(id, name, list_key, 'processing', to, now, w)
    end
    settle(id, f[5], unique_across(key, f[5]), 'processing', to)
    answer[#answer + 1] = 1
  else
    answer[#answer + 1] = 0
  end
end
w.flush()
return answer
