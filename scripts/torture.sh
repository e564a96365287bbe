#!/usr/bin/env bash
# Crash tests on real stores (RELIABILITY.md): for PostgreSQL, SQLite, MariaDB, MongoDB and
# Redis, a jobs run (worker processes — multi workers claiming jobs ahead of their free slots —
# SIGKILLed and replaced, the database killed and restarted once mid-run) and a scheduler run
# (three scheduler processes racing over Delay and Cron items, one SIGKILLed and replaced every
# ~5 s, the database killed and restarted once).
#
#   scripts/torture.sh            full run: 10,000 jobs per store, 150 s of schedulers
#   scripts/torture.sh --short    CI run: 4,000 jobs (MongoDB 1,000), 62 s of schedulers, the
#                                 scheduler runs of all stores at once (about 3 minutes)
#   scripts/torture.sh [--short] postgres sqlite mysql mongo redis    only these stores
#
# Every server is a private one that the runs may kill, so no other user of the machine's
# servers is disturbed: PostgreSQL a cluster initdb'd into the work directory (port
# TORTURE_PG_PORT, default 54329, crash-stopped with `pg_ctl -m immediate`); MariaDB a
# `mariadbd` on a datadir made by mariadb-install-db (port TORTURE_MYSQL_PORT, default 3307,
# SIGKILLed); Redis a `redis-server` with `appendonly yes` and `appendfsync always`, the
# settings under which remote-redis loses nothing acknowledged (port TORTURE_REDIS_PORT,
# default 6390, SIGKILLed); MongoDB the test server of scripts/mongo-test-server.sh (port
# TORTURE_MONGO_PORT, default 27019), stopped and started on its data. Each restart leaves the
# database down 3 s. Child logs go under TORTURE_DIR (default a new temporary directory). The
# full run builds the release profile (TORTURE_PROFILE=debug uses the debug build). Exits
# non-zero if any run fails.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"

usage() {
  echo "usage: $0 [--short] [postgres] [sqlite] [mysql] [mongo] [redis]" >&2
  exit 2
}
short=""
stores=()
for arg in "$@"; do
  case "$arg" in
    --short) short=1 ;;
    postgres | sqlite | mysql | mongo | redis) stores+=("$arg") ;;
    mariadb) stores+=(mysql) ;;
    *) usage ;;
  esac
done
[ ${#stores[@]} -gt 0 ] || stores=(postgres sqlite mysql mongo redis)

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
# The servers run as their own users (postgres, mysql) in directories of their own under it.
chmod 755 "$WORK"
echo "torture logs under $WORK" >&2

# Runs as the given user when this script runs as root (servers refuse to run as root).
as_user() {
  local user="$1"
  shift
  if [ "$(id -u)" = 0 ]; then runuser -u "$user" -- "$@"; else "$@"; fi
}
# A directory under $WORK owned by that user.
own_dir() {
  mkdir -p "$2"
  if [ "$(id -u)" = 0 ]; then chown "$1" "$2"; fi
}
# Waits up to 30 s for a command to succeed.
wait_for() {
  for _ in $(seq 1 300); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  return 1
}

# ---- PostgreSQL: a private cluster.
PG_PORT="${TORTURE_PG_PORT:-54329}"
PG_DIR="$WORK/postgres"
pg_bin() { echo "/usr/lib/postgresql/$(ls /etc/postgresql | sort -V | tail -n 1)/bin/$1"; }
pg_start() {
  as_user postgres "$(pg_bin pg_ctl)" -D "$PG_DIR/data" -w -l "$PG_DIR/pg.log" \
    -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1" start >/dev/null
}
pg_stop() { as_user postgres "$(pg_bin pg_ctl)" -D "$PG_DIR/data" -m "${1:-fast}" -w stop >/dev/null; }
pg_setup() {
  rm -rf "$PG_DIR/data"
  own_dir postgres "$PG_DIR"
  as_user postgres "$(pg_bin initdb)" -D "$PG_DIR/data" -A trust -U postgres >"$PG_DIR/initdb.log"
  pg_start
  as_user postgres "$(pg_bin createdb)" -h 127.0.0.1 -p "$PG_PORT" -U postgres torture
  url[postgres]="postgres://postgres@127.0.0.1:$PG_PORT/torture"
  cat >"$PG_DIR/restart.sh" <<EOF
#!/usr/bin/env bash
# Crash-stops the torture cluster (no checkpoint, connections cut), leaves it down 3 s, starts it.
set -euo pipefail
source "$WORK/servers.sh"
pg_stop immediate
sleep 3
pg_start
EOF
  restart[postgres]="bash $PG_DIR/restart.sh"
}

# ---- MariaDB: a private mariadbd.
MY_PORT="${TORTURE_MYSQL_PORT:-3307}"
MY_DIR="$WORK/mariadb"
my_ping() { mariadb-admin --no-defaults --protocol=tcp -h127.0.0.1 -P"$MY_PORT" -uroot ping; }
my_start() {
  as_user mysql mariadbd --no-defaults --datadir="$MY_DIR/data" --port="$MY_PORT" \
    --bind-address=127.0.0.1 --socket="$MY_DIR/mariadb.sock" --pid-file="$MY_DIR/mariadb.pid" \
    --log-error="$MY_DIR/mariadb.err" --skip-name-resolve --skip-grant-tables >/dev/null 2>&1 &
  wait_for my_ping || { echo "MariaDB did not come up (see $MY_DIR/mariadb.err)" >&2; return 1; }
}
my_kill() {
  local pid
  pid="$(cat "$MY_DIR/mariadb.pid")"
  kill -9 "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
}
my_setup() {
  rm -rf "$MY_DIR/data"
  own_dir mysql "$MY_DIR"
  as_user mysql mariadb-install-db --no-defaults --datadir="$MY_DIR/data" \
    --auth-root-authentication-method=normal --skip-test-db >"$MY_DIR/install.log" 2>&1
  my_start
  mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P"$MY_PORT" -uroot -e 'CREATE DATABASE torture'
  url[mysql]="mysql://root@127.0.0.1:$MY_PORT/torture"
  cat >"$MY_DIR/restart.sh" <<EOF
#!/usr/bin/env bash
# SIGKILLs the torture MariaDB, leaves it down 3 s, starts it (InnoDB crash recovery).
set -euo pipefail
source "$WORK/servers.sh"
my_kill
sleep 3
my_start
EOF
  restart[mysql]="bash $MY_DIR/restart.sh"
}
my_stop() { if [ -f "$MY_DIR/mariadb.pid" ]; then my_kill || true; fi; }

# ---- Redis: a private redis-server, every write on disk before it is acknowledged.
REDIS_PORT="${TORTURE_REDIS_PORT:-6390}"
REDIS_DIR="$WORK/redis"
redis_ping() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping | grep -q PONG; }
redis_start() {
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$REDIS_DIR" \
    --appendonly yes --appendfsync always --save "" --daemonize yes \
    --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log"
  wait_for redis_ping || { echo "Redis did not come up (see $REDIS_DIR/redis.log)" >&2; return 1; }
}
redis_kill() {
  local pid
  pid="$(cat "$REDIS_DIR/redis.pid")"
  kill -9 "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
}
redis_setup() {
  rm -rf "$REDIS_DIR/appendonlydir"
  mkdir -p "$REDIS_DIR"
  redis_start
  url[redis]="redis://127.0.0.1:$REDIS_PORT/"
  cat >"$REDIS_DIR/restart.sh" <<EOF
#!/usr/bin/env bash
# SIGKILLs the torture Redis, leaves it down 3 s, starts it on its append-only file.
set -euo pipefail
source "$WORK/servers.sh"
redis_kill
sleep 3
redis_start
EOF
  restart[redis]="bash $REDIS_DIR/restart.sh"
}
redis_stop() { if [ -f "$REDIS_DIR/redis.pid" ]; then redis_kill || true; fi; }

# ---- MongoDB: the test server on its own port and data.
MONGO_PORT="${TORTURE_MONGO_PORT:-27019}"
MONGO_STATE="$WORK/mongo"
mongo_server() { MONGO_TEST_PORT="$MONGO_PORT" MONGO_TEST_STATE="$MONGO_STATE" "$ROOT/scripts/mongo-test-server.sh" "$@"; }
mongo_setup() {
  mongo_server start >/dev/null
  url[mongo]="mongodb://127.0.0.1:$MONGO_PORT/torture?directConnection=true"
  restart[mongo]="MONGO_TEST_PORT=$MONGO_PORT MONGO_TEST_STATE=$MONGO_STATE $ROOT/scripts/mongo-test-server.sh restart 3"
}

# The restart scripts source the helpers above with this run's settings.
{
  declare -p ROOT WORK PG_PORT PG_DIR MY_PORT MY_DIR REDIS_PORT REDIS_DIR
  declare -f as_user wait_for pg_bin pg_start pg_stop my_ping my_start my_kill redis_ping \
    redis_start redis_kill
} >"$WORK/servers.sh"

declare -A url restart started
# Stops the servers started here and removes their data; the logs stay.
cleanup() {
  if [ -n "${started[postgres]:-}" ]; then pg_stop fast || true; fi
  if [ -n "${started[mysql]:-}" ]; then my_stop; fi
  if [ -n "${started[redis]:-}" ]; then redis_stop; fi
  if [ -n "${started[mongo]:-}" ]; then mongo_server stop >/dev/null || true; fi
  rm -rf "$PG_DIR/data" "$MY_DIR/data" "$REDIS_DIR/appendonlydir" "$WORK"/torture.db*
}
trap cleanup EXIT

for store in "${stores[@]}"; do
  case "$store" in
    postgres) pg_setup ;;
    mysql) my_setup ;;
    redis) redis_setup ;;
    mongo) mongo_setup ;;
    sqlite) url[sqlite]="sqlite://$WORK/torture.db" ;;
  esac
  started[$store]=1
done

failed=()
# Runs one test in the foreground.
run() {
  local name="$1"
  shift
  echo "== $name" >&2
  if ! "$BIN" "$@" --log-dir "$WORK/$name"; then
    failed+=("$name")
  fi
}
# Starts one test in the background, its output in $WORK/<name>.out.
declare -A background
run_in_background() {
  local name="$1"
  shift
  "$BIN" "$@" --log-dir "$WORK/$name" >"$WORK/$name.out" 2>&1 &
  background[$name]=$!
}
# Waits for the background tests, printing each one's output in turn.
wait_background() {
  local name
  for name in "${!background[@]}"; do
    if ! wait "${background[$name]}"; then failed+=("$name"); fi
  done
  for name in "${stores[@]/%/-scheduler}"; do
    if [ -n "${background[$name]:-}" ]; then
      echo "== $name" >&2
      cat "$WORK/$name.out"
    fi
  done
  background=()
}

restart_args() {
  if [ -n "${restart[$1]:-}" ]; then echo "--restart-db"; echo "${restart[$1]}"; fi
}

for store in "${stores[@]}"; do
  mapfile -t again < <(restart_args "$store")
  if [ "$store" = mongo ]; then
    run "$store-jobs" jobs --store "${url[$store]}" "${mongo_jobs_args[@]}" "${again[@]}"
  else
    run "$store-jobs" jobs --store "${url[$store]}" "${jobs_args[@]}" "${again[@]}"
  fi
done
for store in "${stores[@]}"; do
  mapfile -t again < <(restart_args "$store")
  if [ -n "$short" ]; then
    run_in_background "$store-scheduler" scheduler --store "${url[$store]}" "${scheduler_args[@]}" "${again[@]}"
  else
    run "$store-scheduler" scheduler --store "${url[$store]}" "${scheduler_args[@]}" "${again[@]}"
  fi
done
if [ -n "$short" ]; then
  echo "== scheduler runs of ${stores[*]} at once" >&2
  wait_background
fi

if [ ${#failed[@]} -gt 0 ]; then
  echo "torture runs failed: ${failed[*]} (logs under $WORK)" >&2
  exit 1
fi
echo "every torture run passed" >&2
