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
  local f = redis.call('HMGET', key, 'status', 'lease_token', 'lease_until', 'job_name',
    'list_key', 'pull_key', 'unique_key', 'unique_across', 'attempt')
  local applies = f[1] == 'processing' and f[2] == token and f[4] and f[5] and f[6]
  if applies and rescue and f[3] and f[3] ~= '' then
    applies = tonumber(f[3]) <= tonumber(now)
  end
  if applies then
    local name, list_key = f[4], f[5]
    local to
    unlease(id, w)
    if kind == 'completed' then
      to = 'completed'
      redis.call('HSET', key, 'status', to, 'output', payload, 'completed_at', now,
        'lease_until', '', 'lease_token', '')
      move(id, name, list_key, 'processing', to, now, w)
    elseif kind == 'retry' or kind == 'snooze' then
      to = 'queued'
      redis.call('HSET', key, 'status', to, 'not_before', not_before, 'lease_until', '',
        'lease_token', '')
      if kind == 'retry' then
        redis.call('RPUSH', errors_key(id), payload)
      else
        redis.call('HSET', key, 'attempt', math.max((tonumber(f[9]) or 0) - 1, 0))
        redis.call('HINCRBY', key, 'snoozes', 1)
      end
      move(id, name, list_key, 'processing', to, nil, w)
      enqueue(id, name, f[6], not_before, w)
    else
      to = 'error'
      redis.call('HSET', key, 'status', to, 'completed_at', now, 'lease_until', '',
        'lease_token', '')
      redis.call('RPUSH', errors_key(id), payload)
      move(id, name, list_key, 'processing', to, now, w)
    end
    settle(id, f[7], f[8], 'processing', to)
    answer[#answer + 1] = 1
  else
    answer[#answer + 1] = 0
  end
end
w.flush()
return answer
