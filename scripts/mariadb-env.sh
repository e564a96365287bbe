# Sourced by the test scripts (from the project root): makes sure the local MariaDB server runs
# (starting it when it is down), that database `test` exists and that a user can reach it over
# TCP on 127.0.0.1:3306 (root with an empty password, else a `remote_test` user created here),
# and sets REMOTE_TEST_MYSQL_URL unless it is set already. Fails loudly when it cannot.
mariadb_env() {
  local admin=(mysql --protocol=socket -uroot --batch --skip-column-names)
  local port="${REMOTE_TEST_MYSQL_PORT:-3306}"
  if ! "${admin[@]}" -e 'SELECT 1' >/dev/null 2>&1; then
    if [ ! -x /usr/sbin/mariadbd ]; then
      echo "MariaDB is not installed (/usr/sbin/mariadbd) and no server answers" >&2
      return 1
    fi
    echo "starting MariaDB" >&2
    install -d -o mysql -g mysql /run/mysqld 2>/dev/null || mkdir -p /run/mysqld
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
    for _ in $(seq 1 150); do
      "${admin[@]}" -e 'SELECT 1' >/dev/null 2>&1 && break
      sleep 0.2
    done
    if ! "${admin[@]}" -e 'SELECT 1' >/dev/null 2>&1; then
      echo "MariaDB did not come up (see /var/log/mysql/error.log)" >&2
      return 1
    fi
  fi
  "${admin[@]}" -e 'CREATE DATABASE IF NOT EXISTS test' || return 1
  local tcp=(mysql --protocol=tcp -h127.0.0.1 -P"$port" --batch --skip-column-names)
  local user="root"
  if ! "${tcp[@]}" -uroot -e 'SELECT 1' test >/dev/null 2>&1; then
    # root may log in over the socket only (unix_socket authentication): a user of its own.
    "${admin[@]}" -e "CREATE USER IF NOT EXISTS 'remote_test'@'127.0.0.1' IDENTIFIED BY 'remote_test';
      GRANT ALL PRIVILEGES ON test.* TO 'remote_test'@'127.0.0.1';" || return 1
    user="remote_test:remote_test"
    if ! "${tcp[@]}" -uremote_test -premote_test -e 'SELECT 1' test >/dev/null 2>&1; then
      echo "neither root nor remote_test can log in to MariaDB on 127.0.0.1:$port" >&2
      return 1
    fi
  fi
  export REMOTE_TEST_MYSQL_URL="mysql://$user@127.0.0.1:$port/test"
}
if [ -z "${REMOTE_TEST_MYSQL_URL:-}" ]; then
  mariadb_env || { echo "no MariaDB for the tests" >&2; return 1 2>/dev/null || exit 1; }
fi
