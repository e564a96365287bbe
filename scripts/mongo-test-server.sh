#!/usr/bin/env bash
# A MongoDB-wire test server (SecantusDB) for the remote-mongo tests.
#
#   scripts/mongo-test-server.sh start   install if missing, start, wait for the port, print the URL
#   scripts/mongo-test-server.sh stop    stop the server started by `start`
#   scripts/mongo-test-server.sh restart [SECONDS]
#                                        stop the server, wait SECONDS (default 0), start it
#                                        again on the same data (for crash tests)
#   scripts/mongo-test-server.sh url     print the URL to export as REMOTE_TEST_MONGODB_URL
#
# SecantusDB is GPL-2.0: it runs as a separate test process only and is never a dependency.
# Settings (environment): MONGO_TEST_PORT (27018), MONGO_TEST_HOST (127.0.0.1),
# MONGO_TEST_STATE (directory for PID file, data and log; default under $TMPDIR or /tmp),
# SECANTUS_ROOT (install root; default $HOME/.local/secantus).
set -euo pipefail

SECANTUS_VERSION="0.5.3-beta.196"
ROOT="${SECANTUS_ROOT:-$HOME/.local/secantus}"
BIN="$ROOT/bin/secantusd-rs"
HOST="${MONGO_TEST_HOST:-127.0.0.1}"
PORT="${MONGO_TEST_PORT:-27018}"
STATE="${MONGO_TEST_STATE:-${TMPDIR:-/tmp}/remote-mongo-test-server-$PORT}"
PID_FILE="$STATE/secantusd.pid"
LOG_FILE="$STATE/secantusd.log"
DATA_FILE="$STATE/data-path"

url() {
  echo "mongodb://$HOST:$PORT/?directConnection=true"
}

install() {
  if [ -x "$BIN" ]; then
    return
  fi
  echo "installing SecantusDB $SECANTUS_VERSION into $ROOT (about 8 minutes)" >&2
  if ! command -v cmake >/dev/null; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q cmake
  fi
  cargo install secantus-mdb --version "$SECANTUS_VERSION" --locked --ignore-rust-version --root "$ROOT"
}

port_open() {
  (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null
}

running() {
  [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null
}

start() {
  if running; then
    echo "already running (PID $(cat "$PID_FILE")): $(url)" >&2
    url
    return
  fi
  if port_open; then
    echo "port $HOST:$PORT is taken by another process; set MONGO_TEST_PORT" >&2
    exit 1
  fi
  # Callers capture stdout as the URL (`$(… start)`): everything the install prints, apt-get's
  # progress included, goes to stderr.
  install >&2
  mkdir -p "$STATE"
  local data
  data="$(mktemp -d "$STATE/data.XXXXXX")"
  echo "$data" >"$DATA_FILE"
  : >"$LOG_FILE"
  launch "$data"
}

launch() {
  "$BIN" --host "$HOST" --port "$PORT" --storage-path "$1" \
    --cache-size 256M --log-file-max 16MB >>"$LOG_FILE" 2>&1 &
  echo $! >"$PID_FILE"
  for _ in $(seq 1 300); do
    if port_open; then
      echo "SecantusDB running (PID $(cat "$PID_FILE")); export REMOTE_TEST_MONGODB_URL='$(url)'" >&2
      url
      return
    fi
    if ! running; then
      echo "SecantusDB exited during start; its log:" >&2
      cat "$LOG_FILE" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "SecantusDB did not open $HOST:$PORT within 30 s; its log: $LOG_FILE" >&2
  exit 1
}

terminate() {
  local pid
  pid="$(cat "$PID_FILE")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill -9 "$pid"
    fi
  fi
  rm -f "$PID_FILE"
}

restart() {
  if ! running || [ ! -f "$DATA_FILE" ]; then
    echo "not running (no $PID_FILE or $DATA_FILE); use start" >&2
    exit 1
  fi
  terminate
  echo "SecantusDB stopped; starting it again on the same data" >&2
  sleep "${1:-0}"
  launch "$(cat "$DATA_FILE")" >/dev/null
}

stop() {
  if [ ! -f "$PID_FILE" ]; then
    echo "not running (no $PID_FILE)" >&2
    return
  fi
  terminate
  rm -f "$DATA_FILE"
  rm -rf "$STATE"/data.*
  echo "SecantusDB stopped" >&2
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) restart "${2:-0}" ;;
  url) url ;;
  *)
    echo "usage: $0 start|stop|restart [SECONDS]|url" >&2
    exit 2
    ;;
esac
