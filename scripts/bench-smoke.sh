#!/usr/bin/env bash
# A benchmark smoke run for CI: `remote-bench --smoke` (a few seconds per store) on memory,
# SQLite, PostgreSQL and MongoDB. It prints the figures and asserts nothing about speed; it
# fails only when a store cannot be benchmarked at all. Debug build, as the tests left it.
#   REMOTE_TEST_POSTGRES_URL  PostgreSQL to use (default postgres://postgres@127.0.0.1:5432/test)
#   REMOTE_TEST_MONGODB_URL   MongoDB to use (default: the test server, started if needed)
set -euo pipefail
cd "$(dirname "$0")/.."

tmp="$(mktemp -d)"
started_mongo=""
finish() {
  rm -rf "$tmp"
  if [ -n "$started_mongo" ]; then scripts/mongo-test-server.sh stop >/dev/null || true; fi
}
trap finish EXIT

pg_url="${REMOTE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
mongo_url="${REMOTE_TEST_MONGODB_URL:-}"
if [ -z "$mongo_url" ]; then
  if (exec 3<>"/dev/tcp/${MONGO_TEST_HOST:-127.0.0.1}/${MONGO_TEST_PORT:-27018}") 2>/dev/null; then
    mongo_url="$(scripts/mongo-test-server.sh url)"
  else
    mongo_url="$(scripts/mongo-test-server.sh start)"
    started_mongo=1
  fi
fi

cargo build --quiet -p remote-bench
start=$SECONDS
"${CARGO_TARGET_DIR:-target}/debug/remote-bench" --smoke \
  --store memory: \
  --store "sqlite://$tmp/bench.db" \
  --store "$pg_url" \
  --store "$mongo_url" \
  --plot "$tmp/bench.svg"
echo "bench-smoke: $((SECONDS - start)) s"
