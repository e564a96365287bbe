#!/usr/bin/env bash
# Runs every test of the workspace against every store: installs Chromium when missing, starts
# PostgreSQL when it is down and the MongoDB-wire test server, then `cargo test --workspace --all-features`. Extra arguments go to
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

cargo test --workspace --all-features "$@"
