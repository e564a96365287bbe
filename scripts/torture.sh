#!/usr/bin/env bash
# Crash tests on real stores (RELIABILITY.md): for PostgreSQL, SQLite and MongoDB, a jobs run
# (worker processes SIGKILLed and replaced, the database restarted once mid-run) and a
# scheduler run (three scheduler processes racing over Delay and Cron items, one SIGKILLed and
# replaced every ~5 s, the database restarted once).
#
#   scripts/torture.sh            full run: 10,000 jobs per store, 150 s of schedulers
#   scripts/torture.sh --short    CI run: about a minute per store
#   scripts/torture.sh [--short] postgres sqlite mongo    only these stores
#
# PostgreSQL runs in a private cluster (initdb into a temporary directory, port
# TORTURE_PG_PORT, default 54329), so restarting it disturbs no other user of the machine's
# server; MongoDB is the test server of scripts/mongo-test-server.sh on port
# TORTURE_MONGO_PORT (default 27019), restarted on its own data. Child logs go under
# TORTURE_DIR (default a new temporary directory). The full run builds the release profile
# (TORTURE_PROFILE=debug uses the debug build). Exits non-zero if any run fails.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"

short=""
stores=()
for arg in "$@"; do
  case "$arg" in
    --short) short=1 ;;
    postgres | sqlite | mongo) stores+=("$arg") ;;
    *)
      echo "usage: $0 [--short] [postgres] [sqlite] [mongo]" >&2
      exit 2
      ;;
  esac
done
[ ${#stores[@]} -gt 0 ] || stores=(postgres sqlite mongo)

if [ -n "$short" ]; then
  jobs_args=(--jobs 4000 --kill-every 1s)
  mongo_jobs_args=(--jobs 1000 --kill-every 2s)
  scheduler_args=(--duration 62s --kill-every 5s)
  profile=()
  bin_dir=debug
else
  jobs_args=(--jobs 10000 --kill-every 3s)
  mongo_jobs_args=(--jobs 10000 --kill-every 3s)
  scheduler_args=(--duration 150s --kill-every 5s)
  profile=(--release)
  bin_dir=release
fi

if [ "${TORTURE_PROFILE:-}" = debug ]; then
  profile=()
  bin_dir=debug
fi
cargo build --quiet "${profile[@]}" -p remote-torture
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET/$bin_dir/remote-torture"
WORK="${TORTURE_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/remote-torture.XXXXXX")}"
mkdir -p "$WORK"
echo "torture logs under $WORK" >&2

failed=()
run() {
  local name="$1"
  shift
  echo "== $name" >&2
  if ! "$BIN" "$@" --log-dir "$WORK/$name"; then
    failed+=("$name")
  fi
}

# ---- PostgreSQL: a private cluster that the runs may stop and start.
PG_PORT="${TORTURE_PG_PORT:-54329}"
PG_DATA="$WORK/pg-data"
pg_bin() { echo "/usr/lib/postgresql/$(ls /etc/postgresql | sort -V | tail -n 1)/bin/$1"; }
as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
pg_start_command() {
  echo "$(as_postgres_prefix)$(pg_bin pg_ctl) -D $PG_DATA -w -l $WORK/pg.log \
-o '-p $PG_PORT -k $WORK -c listen_addresses=127.0.0.1' start"
}
as_postgres_prefix() { if [ "$(id -u)" = 0 ]; then echo "runuser -u postgres -- "; fi; }
pg_stop() { as_postgres "$(pg_bin pg_ctl)" -D "$PG_DATA" -m "${1:-fast}" -w stop >/dev/null; }
pg_started=""
mongo_started=""
cleanup() {
  if [ -n "$pg_started" ]; then pg_stop fast || true; fi
  if [ -n "$mongo_started" ]; then
    MONGO_TEST_PORT="$MONGO_PORT" MONGO_TEST_STATE="$MONGO_STATE" scripts/mongo-test-server.sh stop || true
  fi
}
trap cleanup EXIT

for store in "${stores[@]}"; do
  case "$store" in
    postgres)
      if [ "$(id -u)" = 0 ]; then chown postgres "$WORK"; fi
      as_postgres mkdir -p "$PG_DATA"
      as_postgres "$(pg_bin initdb)" -D "$PG_DATA" -A trust -U postgres >"$WORK/initdb.log"
      sh -c "$(pg_start_command)" >/dev/null
      pg_started=1
      as_postgres "$(pg_bin createdb)" -h 127.0.0.1 -p "$PG_PORT" -U postgres torture
      url="postgres://postgres@127.0.0.1:$PG_PORT/torture"
      restart="$(as_postgres_prefix)$(pg_bin pg_ctl) -D $PG_DATA -m immediate -w stop >/dev/null && sleep 3 && $(pg_start_command) >/dev/null"
      run postgres-jobs jobs --store "$url" "${jobs_args[@]}" --restart-db "$restart"
      run postgres-scheduler scheduler --store "$url" "${scheduler_args[@]}" --restart-db "$restart"
      pg_stop fast
      pg_started=""
      rm -rf "$PG_DATA"
      ;;
    sqlite)
      url="sqlite://$WORK/torture.db"
      run sqlite-jobs jobs --store "$url" "${jobs_args[@]}"
      run sqlite-scheduler scheduler --store "$url" "${scheduler_args[@]}"
      ;;
    mongo)
      MONGO_PORT="${TORTURE_MONGO_PORT:-27019}"
      MONGO_STATE="$WORK/mongo"
      MONGO_TEST_PORT="$MONGO_PORT" MONGO_TEST_STATE="$MONGO_STATE" scripts/mongo-test-server.sh start >/dev/null
      mongo_started=1
      url="mongodb://127.0.0.1:$MONGO_PORT/torture?directConnection=true"
      restart="MONGO_TEST_PORT=$MONGO_PORT MONGO_TEST_STATE=$MONGO_STATE $ROOT/scripts/mongo-test-server.sh restart 3"
      run mongo-jobs jobs --store "$url" "${mongo_jobs_args[@]}" --restart-db "$restart"
      run mongo-scheduler scheduler --store "$url" "${scheduler_args[@]}" --restart-db "$restart"
      MONGO_TEST_PORT="$MONGO_PORT" MONGO_TEST_STATE="$MONGO_STATE" scripts/mongo-test-server.sh stop
      mongo_started=""
      ;;
  esac
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "torture runs failed: ${failed[*]} (logs under $WORK)" >&2
  exit 1
fi
echo "every torture run passed" >&2
