#!/usr/bin/env bash
# A throw-away PostgreSQL 15 + PostGIS cluster for tests and local trials of the PostGIS store
# backend (Debian's postgresql-15 and postgresql-15-postgis-3, see scripts/install-deps.sh).
#
#   scripts/pg-temp.sh start [DIR]   initdb into DIR (default: a new mktemp -d), start it on a free
#                                    loopback port with its socket in DIR, create database "spp"
#                                    with the postgis extension; prints the libpq URI on stdout.
#                                    The password of role "spp" is in DIR/password (pass it to spp
#                                    as PGPASSWORD; TCP connections need it: scram-sha-256).
#   scripts/pg-temp.sh stop DIR      stops the cluster (fast shutdown)
#   scripts/pg-temp.sh kill DIR      stops it immediately (SIGQUIT: a database that went away)
#   scripts/pg-temp.sh restart DIR   starts a stopped cluster again on the same port
#   scripts/pg-temp.sh clean DIR     stops it and removes DIR
#
# Run as root, the cluster belongs to the "postgres" user (initdb refuses root). Nothing outside
# DIR is touched: no system cluster, no pg_ctlcluster, no /var/run/postgresql.
set -euo pipefail
bin=/usr/lib/postgresql/15/bin
cmd=${1:-}
dir=${2:-}
[ -x "$bin/initdb" ] || { echo "pg-temp: $bin/initdb missing (apt-get install postgresql-15)" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pgctl() { as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 "$@" >/dev/null; }

free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

case "$cmd" in
  start)
    [ -n "$dir" ] || dir=$(mktemp -d /tmp/spp-pg.XXXXXX)
    mkdir -p "$dir"
    [ ! -e "$dir/data" ] || { echo "pg-temp: $dir/data exists (use restart)" >&2; exit 1; }
    [ "$(id -u)" -ne 0 ] || chown postgres: "$dir"
    chmod 700 "$dir"
    head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$dir/password"
    [ "$(id -u)" -ne 0 ] || chown postgres: "$dir/password"
    # local (socket) connections trust the owner; TCP wants the password
    as_owner "$bin/initdb" -D "$dir/data" -U spp --pwfile="$dir/password" --auth-local=trust \
      --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
    port=$(free_port)
    echo "$port" > "$dir/port"
    cat >> "$dir/data/postgresql.conf" <<EOF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
shared_buffers = 64MB
EOF
    pgctl start
    as_owner "$bin/psql" -h "$dir" -p "$port" -U spp -d postgres -qAt -v ON_ERROR_STOP=1 \
      -c "CREATE DATABASE spp" >/dev/null
    as_owner "$bin/psql" -h "$dir" -p "$port" -U spp -d spp -qAt -v ON_ERROR_STOP=1 \
      -c "CREATE EXTENSION postgis" >/dev/null
    echo "postgresql://spp@127.0.0.1:$port/spp"
    ;;
  stop)
    [ -d "$dir/data" ] || { echo "pg-temp: no cluster in '$dir'" >&2; exit 1; }
    pgctl stop -m fast || true
    ;;
  kill)
    [ -d "$dir/data" ] || { echo "pg-temp: no cluster in '$dir'" >&2; exit 1; }
    pgctl stop -m immediate || true
    ;;
  restart)
    [ -d "$dir/data" ] || { echo "pg-temp: no cluster in '$dir'" >&2; exit 1; }
    pgctl start
    ;;
  clean)
    [ -n "$dir" ] && [ -d "$dir" ] || { echo "pg-temp: no directory '$dir'" >&2; exit 1; }
    [ ! -d "$dir/data" ] || pgctl stop -m immediate 2>/dev/null || true
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start [DIR] | stop DIR | kill DIR | restart DIR | clean DIR" >&2
    exit 2
    ;;
esac
