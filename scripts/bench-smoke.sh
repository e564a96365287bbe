#!/usr/bin/env bash
# A benchmark smoke run for CI: `remote-bench --smoke` (a few seconds per store) on memory,
# SQLite, PostgreSQL, MariaDB/MySQL, MongoDB and Redis: drains with the default prefetch and
# with 1,000 ahead, the raw loops, apalis where it has a storage, claim and wake-up latency,
# and the scheduler measurement (300 Delay items, one and three schedulers), then the pruning
# measurement on PostgreSQL with 20,000 finished jobs (pruning removes exactly them). It prints the
# figures and asserts nothing about speed; it fails when a store cannot be benchmarked at all
# or a scheduler occurrence did not get exactly one job. Debug build, as the tests left it.
#   REMOTE_TEST_POSTGRES_URL  PostgreSQL to use (default postgres://postgres@127.0.0.1:5432/test)
#   REMOTE_TEST_MYSQL_URL     MariaDB/MySQL to use (default: the local server, see mariadb-env.sh)
#   REMOTE_TEST_MONGODB_URL   MongoDB to use (default: the test server, started if needed)
#   REMOTE_TEST_REDIS_URL     Redis to use (default: 127.0.0.1:6379, started if needed)
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/mongo-env.sh
. scripts/mongo-env.sh
# shellcheck source=scripts/mariadb-env.sh
. scripts/mariadb-env.sh
# shellcheck source=scripts/redis-env.sh
. scripts/redis-env.sh
tmp="$(mktemp -d)"
finish() {
  rm -rf "$tmp"
  stop_started_mongo
}
trap finish EXIT

pg_url="${REMOTE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"

cargo build --quiet -p remote-bench
start=$SECONDS
"${CARGO_TARGET_DIR:-target}/debug/remote-bench" --smoke \
  --store memory: \
  --store "sqlite://$tmp/bench.db" \
  --store "$pg_url" \
  --store "$REMOTE_TEST_MYSQL_URL" \
  --store "$REMOTE_TEST_MONGODB_URL" \
  --store "$REMOTE_TEST_REDIS_URL" \
  --plot "$tmp/bench.svg"
# the pruning measurement, small: 20,000 finished jobs pruned beside a claimer
"${CARGO_TARGET_DIR:-target}/debug/remote-bench" --store "$pg_url" --prune 20000
echo "bench-smoke: $((SECONDS - start)) s"
