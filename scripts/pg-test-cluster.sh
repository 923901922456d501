#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the tests (issue #15).
#
#   pg-test-cluster.sh start DIR   initdb in a fresh mktemp directory under /tmp (owned by
#                                  an unprivileged user, who may not be able to reach DIR),
#                                  listen on 127.0.0.1 only on a free port, socket in that
#                                  directory; writes the URI to DIR/uri and prints it
#   pg-test-cluster.sh stop DIR    stop the server (fast, then immediate) and remove both
#   pg-test-cluster.sh restart DIR stop and start the same cluster on the same port
#
# Runs the server as the calling user, or as `postgres` (the Debian package's system user)
# when called as root: initdb refuses root. Fails (exit 1) when the server cannot be started:
# the PostgreSQL tests then fail rather than being skipped.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop|restart DIR" >&2; exit 64; }

bindir=${PB_PG_BINDIR:-}
if [ -z "$bindir" ]; then
  for v in 17 16 15 14 13; do
    if [ -x "/usr/lib/postgresql/$v/bin/initdb" ]; then bindir=/usr/lib/postgresql/$v/bin; break; fi
  done
fi
[ -n "$bindir" ] && [ -x "$bindir/pg_ctl" ] || {
  echo "pg-test-cluster: no PostgreSQL server binaries (apt-get install postgresql)" >&2
  exit 1
}

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

start_server() {
  local port=$1 pgdir
  pgdir=$(cat "$dir/pgdir")
  as_owner "$bindir/pg_ctl" -D "$pgdir/data" -l "$pgdir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$pgdir \
        -c fsync=off -c synchronous_commit=on -c full_page_writes=off -c max_connections=200 \
        -c shared_buffers=32MB" start >/dev/null
}

case "$cmd" in
start)
  mkdir -p "$dir"
  pgdir=$(mktemp -d /tmp/pb-pg.XXXXXX)
  printf '%s\n' "$pgdir" >"$dir/pgdir"
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || { echo "pg-test-cluster: no 'postgres' user" >&2; exit 1; }
    chown postgres "$pgdir"
  fi
  pw=pbtest$$$RANDOM
  printf '%s\n' "$pw" >"$pgdir/pwfile"
  [ "$(id -u)" -ne 0 ] || chown postgres "$pgdir/pwfile"
  as_owner "$bindir/initdb" -D "$pgdir/data" -U paybatch --pwfile="$pgdir/pwfile" \
    -A scram-sha-256 -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    exit 1
  }
  port=$(free_port)
  if ! start_server "$port"; then
    cat "$pgdir/server.log" >&2 || true
    exit 1
  fi
  uri="postgresql://paybatch:$pw@127.0.0.1:$port/postgres"
  printf '%s\n' "$port" >"$dir/port"
  printf '%s\n' "$uri" >"$dir/uri"
  echo "$uri"
  ;;
stop)
  if [ -f "$dir/pgdir" ]; then
    pgdir=$(cat "$dir/pgdir")
    if [ -d "$pgdir/data" ]; then
      as_owner "$bindir/pg_ctl" -D "$pgdir/data" -m fast -w -t 20 stop >/dev/null 2>&1 ||
        as_owner "$bindir/pg_ctl" -D "$pgdir/data" -m immediate -w -t 20 stop >/dev/null 2>&1 || true
    fi
    case "$pgdir" in /tmp/pb-pg.*) rm -rf "$pgdir" ;; esac
  fi
  rm -rf "$dir"
  ;;
restart)
  pgdir=$(cat "$dir/pgdir")
  as_owner "$bindir/pg_ctl" -D "$pgdir/data" -m immediate -w -t 20 stop >/dev/null
  start_server "$(cat "$dir/port")"
  ;;
*)
  echo "usage: $0 start|stop|restart DIR" >&2
  exit 64
  ;;
esac
