#!/usr/bin/env bash
# Start throwaway PostgreSQL and MariaDB servers on 127.0.0.1 for csdesk's storage tests.
#
#   eval "$(bash scripts/db-servers.sh start)"   # installs what is missing (Debian, as root),
#                                                # starts both, prints the two export lines
#   bash scripts/db-servers.sh stop
#
# Both run as the unprivileged "postgres" / "mysql" users from data folders under
# ${CSDESK_DB_ROOT:-/tmp/csdesk-db}, on ports 54329 and 33069, with a database "csdesk" that the
# user "csdesk" (password "csdesk") owns. Nothing here is for production: trust auth on loopback.
# Prints CSDESK_POSTGRES_URL and CSDESK_MARIADB_URL as `export` lines on stdout; everything else
# goes to stderr.
set -euo pipefail

ROOT=${CSDESK_DB_ROOT:-/tmp/csdesk-db}
PG_PORT=54329
MY_PORT=33069
say() { echo "db-servers: $*" >&2; }

need_packages() {
  local missing=()
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
  command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server)
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]} from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq "${missing[@]}" >&2
  fi
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1; }

start_postgres() {
  local bin data=$ROOT/pg
  bin=$(pg_bin)
  mkdir -p "$ROOT"
  if [ ! -f "$data/PG_VERSION" ]; then
    mkdir -p "$data" && chown postgres "$data"
    su postgres -c "$bin/initdb -D $data -A trust -U postgres --no-sync" >/dev/null
  fi
  if ! su postgres -c "$bin/pg_ctl -D $data status" >/dev/null 2>&1; then
    su postgres -c "$bin/pg_ctl -D $data -l $data/server.log -w -o '-p $PG_PORT -k /tmp -h 127.0.0.1 -c fsync=off' start" >&2
  fi
  psql -h 127.0.0.1 -p $PG_PORT -U postgres -tAc "SELECT 1 FROM pg_roles WHERE rolname='csdesk'" | grep -q 1 ||
    psql -h 127.0.0.1 -p $PG_PORT -U postgres -qc "CREATE ROLE csdesk LOGIN PASSWORD 'csdesk' CREATEDB" >&2
  psql -h 127.0.0.1 -p $PG_PORT -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='csdesk'" | grep -q 1 ||
    psql -h 127.0.0.1 -p $PG_PORT -U postgres -qc "CREATE DATABASE csdesk OWNER csdesk" >&2
  echo "export CSDESK_POSTGRES_URL=postgresql+psycopg://csdesk:csdesk@127.0.0.1:$PG_PORT/csdesk"
}

start_mariadb() {
  local data=$ROOT/mariadb server
  server=$(command -v mariadbd || echo /usr/sbin/mariadbd)
  mkdir -p "$data" && chown mysql "$data"
  if [ ! -d "$data/mysql" ]; then
    mariadb-install-db --user=mysql --datadir="$data" --auth-root-authentication-method=normal \
      --skip-test-db >/dev/null 2>&1
  fi
  if ! mariadb-admin --protocol=tcp -h 127.0.0.1 -P $MY_PORT -u root status >/dev/null 2>&1; then
    "$server" --user=mysql --datadir="$data" --port=$MY_PORT --bind-address=127.0.0.1 \
      --socket="$data/mariadb.sock" --pid-file="$data/mariadb.pid" --skip-log-bin \
      --innodb-flush-log-at-trx-commit=0 </dev/null >"$ROOT/mariadb.log" 2>&1 &
    for _ in $(seq 1 60); do
      mariadb-admin --protocol=tcp -h 127.0.0.1 -P $MY_PORT -u root status >/dev/null 2>&1 && break
      sleep 0.5
    done
  fi
  mariadb --protocol=tcp -h 127.0.0.1 -P $MY_PORT -u root -e "
    CREATE DATABASE IF NOT EXISTS csdesk CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
    CREATE USER IF NOT EXISTS 'csdesk'@'%' IDENTIFIED BY 'csdesk';
    GRANT ALL ON *.* TO 'csdesk'@'%';" >&2
  echo "export CSDESK_MARIADB_URL=mysql+pymysql://csdesk:csdesk@127.0.0.1:$MY_PORT/csdesk"
}

stop_all() {
  local bin
  bin=$(pg_bin 2>/dev/null || true)
  if [ -n "$bin" ] && [ -f "$ROOT/pg/PG_VERSION" ]; then
    su postgres -c "$bin/pg_ctl -D $ROOT/pg -m fast stop" >&2 || true
  fi
  mariadb-admin --protocol=tcp -h 127.0.0.1 -P $MY_PORT -u root shutdown >/dev/null 2>&1 || true
}

case "${1:-start}" in
  start)
    need_packages
    start_postgres
    start_mariadb
    ;;
  stop) stop_all ;;
  *) say "usage: $0 [start|stop]"; exit 2 ;;
esac
