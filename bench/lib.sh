# What bench/run.sh and bench/history.sh share, sourced by both: the Release build, a work
# directory removed on exit, a throwaway PostgreSQL (fsync on) with the schema migrated, a free
# loopback port, and the daemon started on it.
#   bench_setup PREFIX      sets bin, work, url, port; exports ESR_DATABASE_URL, ESR_BEARER_TOKENS
#   start_daemon [FLAGS]    (re)starts the daemon on $port, sets daemon_pid, returns once it is ready
#   cpu_ticks PID, pg_ticks  CPU clock ticks of a process (its threads) and of the PostgreSQL cluster

scripts/install-deps.sh
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DESR_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench -j"$(nproc)" >/dev/null
bin=$(pwd)/build-bench/eventsshop-receiver

daemon_pid="" peer_pid=""
port_is_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
now() { date +%s.%N; }

bench_cleanup() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  [ -n "$peer_pid" ] && kill "$peer_pid" 2>/dev/null && wait "$peer_pid" 2>/dev/null
  scripts/pg.sh stop "$work/pg"
  rm -rf "$work"
}

bench_setup() {
  work=$(mktemp -d "/tmp/$1-XXXXXX"); chmod 755 "$work"
  trap bench_cleanup EXIT
  url=$(scripts/pg.sh start "$work/pg")
  export ESR_DATABASE_URL=$url ESR_BEARER_TOKENS=bench-token
  "$bin" migrate >"$work/migrate.log" 2>&1 || { cat "$work/migrate.log"; exit 1; }
  port=$(( 10000 + RANDOM % 10000 ))  # below the ephemeral range (32768-), where clients take ports
  until port_is_free "$port"; do port=$(( 10000 + RANDOM % 10000 )); done
}

# CPU time in clock ticks (user + system) of a process and its threads, and of the whole PostgreSQL cluster.
cpu_ticks() { local t=0 f; for f in /proc/"$1"/task/*/stat; do t=$((t + $(awk '{print $14 + $15}' "$f" 2>/dev/null || echo 0))); done; echo "$t"; }
pg_ticks() {
  local master t=0 p; master=$(head -1 "$work/pg/data/postmaster.pid")
  for p in "$master" $(pgrep -P "$master"); do t=$((t + $(cpu_ticks "$p"))); done; echo "$t"
}

start_daemon() {
  if [ -n "$daemon_pid" ]; then kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null || true; fi
  "$bin" serve --listen "127.0.0.1:$port" "$@" >>"$work/daemon.log" 2>&1 &
  daemon_pid=$!
  until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do
    kill -0 "$daemon_pid" 2>/dev/null || { echo "the daemon did not start:"; cat "$work/daemon.log"; exit 1; }
    sleep 0.005
  done
}
