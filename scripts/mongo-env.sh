# Sourced by the test scripts (from the project root): sets REMOTE_TEST_MONGODB_URL to the
# MongoDB-wire test server unless it is set already, starting the server unless one answers on
# its port. `stop_started_mongo` (for the caller's EXIT trap) stops only a server started here.
started_mongo=""
if [ -z "${REMOTE_TEST_MONGODB_URL:-}" ]; then
  if (exec 3<>"/dev/tcp/${MONGO_TEST_HOST:-127.0.0.1}/${MONGO_TEST_PORT:-27018}") 2>/dev/null; then
    REMOTE_TEST_MONGODB_URL="$(scripts/mongo-test-server.sh url)"
  else
    REMOTE_TEST_MONGODB_URL="$(scripts/mongo-test-server.sh start)"
    started_mongo=1
  fi
  export REMOTE_TEST_MONGODB_URL
fi
stop_started_mongo() {
  if [ -n "$started_mongo" ]; then scripts/mongo-test-server.sh stop || true; fi
}
