#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests, in one directory:
#
#   test-postgres.sh start DIR    initdb into DIR (made afresh), start the server on a free port of
#                                 127.0.0.1 and write its URL to DIR/url
#   test-postgres.sh restart DIR  stop it (fast: connections are cut) and start it again, same port
#   test-postgres.sh stop DIR     stop it and remove DIR
#
# Trust authentication, one superuser "evolve", fsync and synchronous_commit on (the tests must see
# what production sees), max_connections 200. PostgreSQL refuses to run as root, so as root the
# server runs as the unprivileged user "nobody". The cluster and its unix socket live in DIR/data,
# unless that user cannot reach DIR (a checkout under /root) or the socket path would be too long
# for a unix socket: then in a temporary directory, which DIR/datadir names and stop removes.
set -euo pipefail

usage() {
  echo "usage: $0 start|restart|stop DIR" >&2
  exit 2
}
[ $# -eq 2 ] || usage
command=$1
dir=$2

bindir=$(pg_config --bindir 2>/dev/null || true)
if [ ! -x "$bindir/pg_ctl" ]; then
  for candidate in /usr/lib/postgresql/*/bin; do
    [ -x "$candidate/pg_ctl" ] && bindir=$candidate
  done
fi
if [ ! -x "$bindir/pg_ctl" ]; then
  echo "test-postgres: no PostgreSQL server binaries (pg_ctl); run scripts/install-deps.sh" >&2
  exit 1
fi

# Runs a server binary as the user that owns the cluster.
as_owner() {
  # From /: the server user may not be allowed into the caller's directory.
  if [ "$(id -u)" -eq 0 ]; then
    (cd / && runuser -u nobody -- "$@")
  else
    (cd / && "$@")
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

data_dir() {
  cat "$dir/datadir"
}

start_server() {
  as_owner "$bindir/pg_ctl" start -w -t 60 -D "$(data_dir)" -l "$(data_dir)/server.log" >/dev/null
}

stop_server() {
  if [ -f "$dir/datadir" ] && [ -f "$(data_dir)/postmaster.pid" ]; then
    as_owner "$bindir/pg_ctl" stop -w -m "$1" -D "$(data_dir)" >/dev/null
  fi
}

remove_all() {
  if [ -f "$dir/datadir" ]; then
    rm -rf "$(data_dir)"
  fi
  rm -rf "$dir"
}

# Absolute: the server binaries run from /.
if [ -d "$dir" ]; then
  dir=$(cd "$dir" && pwd)
fi

case "$command" in
  start)
    stop_server immediate 2>/dev/null || true
    remove_all
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    data=$dir/data
    mkdir "$data"
    if [ "$(id -u)" -eq 0 ]; then
      chown nobody: "$data"
    fi
    # 107 bytes is the limit of a unix socket path; ".s.PGSQL.65535" takes 15.
    if ! as_owner test -w "$data" || [ ${#data} -gt 90 ]; then
      rm -rf "$data"
      data=$(mktemp -d /tmp/evolve-pgtest.XXXXXX)
      if [ "$(id -u)" -eq 0 ]; then
        chown nobody: "$data"
      fi
    fi
    echo "$data" >"$dir/datadir"
    as_owner "$bindir/initdb" -D "$data" -U evolve -A trust -E UTF8 --locale=C.UTF-8 \
      >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    # A port that was free a moment ago may be taken before the server binds it: try a few.
    for attempt in 1 2 3 4 5; do
      port=$(free_port)
      cat >"$data/postgresql.auto.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$data'
max_connections = 200
fsync = on
synchronous_commit = on
CONF
      if start_server; then
        echo "postgresql://evolve@127.0.0.1:$port/postgres" >"$dir/url"
        exit 0
      fi
      echo "test-postgres: start on port $port failed (attempt $attempt)" >&2
    done
    cat "$data/server.log" >&2 || true
    exit 1
    ;;
  restart)
    stop_server fast
    start_server
    ;;
  stop)
    stop_server fast
    remove_all
    ;;
  *)
    usage
    ;;
esac
