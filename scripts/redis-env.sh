# Sourced by the test scripts (from the project root): makes sure a Redis server answers on
# 127.0.0.1:6379, starting one (no persistence, a test server) when nothing does, and sets
# REMOTE_TEST_REDIS_URL unless it is set already. Fails loudly when no server can be had.
redis_ping() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
if ! redis_ping; then
  if ! command -v redis-server >/dev/null; then
    echo "redis-server is not installed and nothing answers on 127.0.0.1:6379" >&2
    return 1 2>/dev/null || exit 1
  fi
  echo "starting Redis on 127.0.0.1:6379" >&2
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 100); do redis_ping && break; sleep 0.1; done
  if ! redis_ping; then
    echo "Redis did not come up on 127.0.0.1:6379 (see /var/log/redis/ci.log)" >&2
    return 1 2>/dev/null || exit 1
  fi
fi
export REMOTE_TEST_REDIS_URL="${REMOTE_TEST_REDIS_URL:-redis://127.0.0.1:6379/}"
