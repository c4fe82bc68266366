#!/usr/bin/env bash
# The one place that runs a throwaway PostgreSQL for development, tests and benchmarks.
#
#   scripts/pg.sh start DIR [--fast]   initdb into DIR (if new), start on a free loopback port,
#                                      create database "eventsshop", print its connection URL
#   scripts/pg.sh stop DIR             stop it (the data stays in DIR)
#   scripts/pg.sh kill DIR             stop it as a crash would (pg_ctl -m immediate: no checkpoint,
#                                      crash recovery at the next start)
#   scripts/pg.sh url DIR              print the URL of a running instance
#
# Loopback only, trust authentication, sockets inside DIR. PostgreSQL refuses to run as root, so
# as root the server runs as the "postgres" user that Debian's package creates. --fast turns fsync
# off: for tests only, never for figures that claim durability.
set -euo pipefail

pg_bin=${ESR_PG_BIN:-/usr/lib/postgresql/15/bin}
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop|kill|url DIR [--fast]" >&2; exit 2; }
fast=${3:-}

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

port_is_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

url_of() { echo "postgresql://postgres@127.0.0.1:$(cat "$1/port")/eventsshop"; }

case "$cmd" in
start)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$dir"
    runuser -u postgres -- test -w "$dir" \
      || { echo "pg.sh: user postgres cannot reach $dir (a parent directory is private); use a path under /tmp" >&2; exit 1; }
  fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_pg "$pg_bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
  fi
  opts="-c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir -c max_connections=200"
  [ "$fast" = "--fast" ] && opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  opts="$opts ${ESR_PG_OPTS:-}"  # e.g. -c shared_preload_libraries=pg_stat_statements when profiling
  for attempt in $(seq 1 20); do
    # A restarted instance keeps its port, so clients configured with its URL find it again.
    if [ "$attempt" -eq 1 ] && [ -f "$dir/port" ]; then port=$(cat "$dir/port"); else port=$(( 20000 + (RANDOM % 12000) )); fi  # below the ephemeral range (32768-)
    port_is_free "$port" || continue
    if as_pg "$pg_bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 -o "-p $port $opts" start >/dev/null; then
      echo "$port" >"$dir/port"
      as_pg "$pg_bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qAt \
        -c "SELECT 1 FROM pg_database WHERE datname='eventsshop'" | grep -q 1 \
        || as_pg "$pg_bin/createdb" -h 127.0.0.1 -p "$port" -U postgres eventsshop
      url_of "$dir"
      exit 0
    fi
  done
  echo "pg.sh: could not start PostgreSQL (see $dir/server.log)" >&2
  exit 1
  ;;
stop)
  [ -d "$dir/data" ] || exit 0
  as_pg "$pg_bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  ;;
kill)
  [ -d "$dir/data" ] || exit 0
  as_pg "$pg_bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  ;;
url)
  url_of "$dir"
  ;;
*)
  echo "usage: $0 start|stop|kill|url DIR [--fast]" >&2; exit 2 ;;
esac
