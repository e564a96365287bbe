-- ARGV: paused ('1': pause, '0': resume), now, then the names. Pausing a paused name keeps the
-- time it was first paused (R31).
for i = 3, #ARGV do
  if ARGV[1] == '1' then
    redis.call('HSETNX', PAUSED, ARGV[i], ARGV[2])
  else
    redis.call('HDEL', PAUSED, ARGV[i])
  end
end
return 1
