#!/usr/bin/env bash
# A benchmark smoke run for CI: `remote-bench --smoke` (a few seconds per store) on memory,
# SQLite, PostgreSQL and MongoDB. It prints the figures and asserts nothing about speed; it
# fails only when a store cannot be benchmarked at all. Debug build, as the tests left it.
#   REMOTE_TEST_POSTGRES_URL  PostgreSQL to use (default postgres://postgres@127.0.0.1:5432/test)
#   REMOTE_TEST_MONGODB_URL   MongoDB to use (default: the test server, started if needed)
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/mongo-env.sh
. scripts/mongo-env.sh
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
  --store "$REMOTE_TEST_MONGODB_URL" \
  --plot "$tmp/bench.svg"
echo "bench-smoke: $((SECONDS - start)) s"
