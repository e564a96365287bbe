#!/usr/bin/env bash
# Runs every test of the workspace against every store: installs Chromium when missing, starts
# PostgreSQL when it is down, the MongoDB-wire test server, Redis (when nothing answers on 6379) and
# MariaDB (when it is down), then
# `cargo test --workspace --all-features --no-fail-fast`: every test binary runs, so one run reports
# every failure, and the exit code is non-zero when any test failed. Extra arguments go to
# cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null; then
  echo "installing Chromium for the dashboard's browser test" >&2
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
fi

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q; }
if ! pg_up; then
  echo "starting PostgreSQL" >&2
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start
  for _ in $(seq 1 100); do pg_up && break; sleep 0.2; done
  pg_up || { echo "PostgreSQL did not come up on 127.0.0.1:5432" >&2; exit 1; }
fi
export REMOTE_TEST_POSTGRES_URL="${REMOTE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"

# shellcheck source=scripts/mongo-env.sh
. scripts/mongo-env.sh
trap stop_started_mongo EXIT

# shellcheck source=scripts/redis-env.sh
. scripts/redis-env.sh

# shellcheck source=scripts/mariadb-env.sh
. scripts/mariadb-env.sh

cargo test --workspace --all-features --no-fail-fast "$@"
