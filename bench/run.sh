#!/usr/bin/env bash
# The benchmark, in one command: a throwaway PostgreSQL (fsync on, as in production), the daemon
# built in Release, then
#   1. idle RSS and time from start to ready,
#   2. small (~1 KB) eventsinfo deliveries from wrk over 64 keep-alive connections: a 15 s warm-up
#      and a CHECKPOINT, then three measured runs, each with the CPU time the daemon and PostgreSQL
#      spent per delivery,
#   3. a city-wide demand matrix (HOTELS x DAYS rows) posted with curl, against a raw COPY of the
#      same rows into a table of the same shape, measured in the same run; the peak RSS counter is
#      reset before it (clear_refs), so the figure is this delivery's alone.
# Prints the figures. Loopback only. Usage: bench/run.sh [HOTELS DAYS [SECONDS]]
set -euo pipefail
cd "$(dirname "$0")/.."
hotels=${1:-500}; days=${2:-365}; seconds=${3:-10}

scripts/install-deps.sh
command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null 2>&1 || sudo apt-get install -y -qq wrk >/dev/null; }
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DESR_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench -j"$(nproc)" >/dev/null
bin=$(pwd)/build-bench/eventsshop-receiver

work=$(mktemp -d /tmp/esr-bench-XXXXXX); chmod 755 "$work"
daemon_pid=""
cleanup() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  scripts/pg.sh stop "$work/pg"
  rm -rf "$work"
}
trap cleanup EXIT

url=$(scripts/pg.sh start "$work/pg")
export ESR_DATABASE_URL=$url ESR_BEARER_TOKENS=bench-token ESR_BENCH_AUTH="Bearer bench-token"
"$bin" migrate >/dev/null 2>&1
port_is_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=$(( 10000 + RANDOM % 10000 ))  # below the ephemeral range (32768-), where clients take ports
until port_is_free "$port"; do port=$(( 10000 + RANDOM % 10000 )); done

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
now() { date +%s.%N; }

start=$(now)
"$bin" serve --listen "127.0.0.1:$port" >"$work/daemon.log" 2>&1 &
daemon_pid=$!
until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do
  kill -0 "$daemon_pid" 2>/dev/null || { echo "the daemon did not start:"; cat "$work/daemon.log"; exit 1; }
  sleep 0.005
done
ready=$(now)
sleep 1
idle_rss=$(rss_kb "$daemon_pid")
idle_anon=$(awk '/^RssAnon/ {print $2}' "/proc/$daemon_pid/status")  # the rest is shared-library pages

# Warm-up, not measured: a fresh cluster creates (and zero-fills) every WAL segment it writes until
# its first checkpoint; a PostgreSQL that has been running recycles them. Fifteen seconds of load and
# a CHECKPOINT stand in for that, so the runs below see a database in its steady state.
wrk -t2 -c64 -d15s -s bench/small-delivery.lua "http://127.0.0.1:$port/" >/dev/null
psql -q "$url" -c CHECKPOINT

# CPU time in clock ticks (user + system) of a process and its threads, and of the whole PostgreSQL cluster.
cpu_ticks() { local t=0 f; for f in /proc/"$1"/task/*/stat; do t=$((t + $(awk '{print $14 + $15}' "$f" 2>/dev/null || echo 0))); done; echo "$t"; }
pg_ticks() {
  local master t=0 p; master=$(head -1 "$work/pg/data/postmaster.pid")
  for p in "$master" $(pgrep -P "$master"); do t=$((t + $(cpu_ticks "$p"))); done; echo "$t"
}
small_runs=()
for run in 1 2 3; do
  d0=$(cpu_ticks "$daemon_pid"); p0=$(pg_ticks)
  wrk -t2 -c64 -d"${seconds}s" --latency -s bench/small-delivery.lua "http://127.0.0.1:$port/" >"$work/wrk.out"
  d1=$(cpu_ticks "$daemon_pid"); p1=$(pg_ticks)
  [ -n "${ESR_BENCH_VERBOSE:-}" ] && cat "$work/wrk.out"
  n=$(awk '/requests in/ {print $1}' "$work/wrk.out")
  small_runs+=("$(awk -v n="$n" -v d=$((d1 - d0)) -v p=$((p1 - p0)) -v hz="$(getconf CLK_TCK)" \
    '/^Requests\/sec/ {rps = $2} $1 == "50%" {p50 = $2} $1 == "99%" {p99 = $2} /Non-2xx/ {bad = $5}
     END {printf "%.0f/s p50 %s p99 %s non-2xx %d; CPU per delivery: daemon %.0f us, PostgreSQL %.0f us",
          rps, p50, p99, bad, d * 1e6 / hz / n, p * 1e6 / hz / n}' "$work/wrk.out")")
  errors=$(grep -E "Socket errors" "$work/wrk.out" || true)
  if [ -n "$errors" ]; then echo "wrk run $run: $errors"; fi
done
small_hwm=$(hwm_kb "$daemon_pid")

build-bench/esr-bench-matrix "$hotels" "$days" 1 "$work/matrix.json" "$work/matrix.tsv"
body_bytes=$(stat -c %s "$work/matrix.json")
rows=$(wc -l <"$work/matrix.tsv")

# Reference: the same rows by COPY into a table shaped and indexed like hotel_demand.
psql -q "$url" -c "CREATE TABLE public.copy_reference (LIKE eventsshop.hotel_demand INCLUDING DEFAULTS INCLUDING INDEXES);
  ALTER TABLE public.copy_reference ALTER delivery_id SET DEFAULT 0, ALTER observed_at SET DEFAULT now();"
t0=$(now)
psql -q "$url" -c "\\copy public.copy_reference (demand_id, hotel_code, hotel_name, city, country, stay_date, absolute_demand, relative_demand, events_registered) FROM '$work/matrix.tsv'"
copy_seconds=$(echo "$(now) - $t0" | bc -l)

echo 5 >"/proc/$daemon_pid/clear_refs"  # restart the peak RSS counter from the current RSS
before_hwm=$(hwm_kb "$daemon_pid")
t1=$(now)
large_seconds=$(curl -s -o "$work/large.out" -w '%{time_total}' -H "Authorization: $ESR_BENCH_AUTH" \
  --data-binary @"$work/matrix.json" "http://127.0.0.1:$port/hoteldemand")
large_hwm=$(hwm_kb "$daemon_pid")
grep -q '"records"' "$work/large.out" || { echo "large delivery failed: $(cat "$work/large.out")"; exit 1; }
# hotel_demand_latest is brought up to date after the 202: how long it trails.
while [ "$(psql -qAt "$url" -c "SELECT count(*) FROM eventsshop.deliveries WHERE latest_pending")" != 0 ]; do sleep 0.05; done
latest_seconds=$(echo "$(now) - $t1" | bc -l)
stored=$(psql -qAt "$url" -c "SELECT count(*) FROM eventsshop.deliveries")


ESR_CORES=$(nproc) awk -v b="$body_bytes" -v r="$rows" -v c="$copy_seconds" -v l="$large_seconds" -v bh="$before_hwm" \
    -v lh="$large_hwm" -v ir="$idle_rss" -v ia="$idle_anon" -v rd="$(echo "$ready - $start" | bc -l)" \
    -v ls="$latest_seconds" \
    -v st="$stored" -v sh="$small_hwm" -v sec="$seconds" 'BEGIN {
  printf "machine: %s cores, PostgreSQL 15 on the same machine, fsync on\n", ENVIRON["ESR_CORES"]
  printf "idle:   RSS %.1f MB (anonymous %.1f MB); ready %.0f ms after start\n", ir/1024, ia/1024, rd*1000
  printf "large:  %d rows, %.1f MB body: %.2f s (raw COPY of the same rows: %.2f s, ratio %.2fx)\n", r, b/1048576, l, c, l/c
  printf "        hotel_demand_latest up to date %.2f s after it was sent (%.2f s after its 202)\n", ls, ls-l
  printf "        peak RSS %.1f MB (before it: %.1f MB; target <= 2 x body + 30 MB = %.1f MB)\n", lh/1024, bh/1024, 2*b/1048576+30
  printf "small:  ~1 KB deliveries, 64 connections, three runs of %d s after a warm-up; peak RSS %.1f MB\n", sec, sh/1024
  printf "stored: %d deliveries in total\n", st
}'
for r in "${small_runs[@]}"; do echo "        $r"; done
exit 0
