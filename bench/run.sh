#!/usr/bin/env bash
# The benchmark, in one command: a throwaway PostgreSQL (fsync on, as in production), the daemon
# built in Release, then
#   1. idle RSS and time from start to ready,
#   2. small (~1 KB) eventsinfo deliveries from wrk over 64 keep-alive connections: a 15 s warm-up
#      and a CHECKPOINT, then three measured runs, each with the CPU time the daemon and PostgreSQL
#      spent per delivery,
#   3. the same small deliveries, same load and PostgreSQL, to the peer receiver in bench/peer-fastify
#      (Fastify + node-postgres, the way a typical engineer writes one; npm installs it; skipped with
#      ESR_BENCH_NO_PEER=1), for the ratio,
#   4. a city-wide demand matrix (HOTELS x DAYS rows) posted with curl, against a bare COPY of the
#      same rows (text format, into a table with the same columns and just a primary key), measured
#      in the same run, and posted to the peer too,
#   5. peak RSS per body shape: the matrix, 20 MB of full eventsinfo objects, 10 MB of `[{},...]`,
#      10 MB of objects nested to near the depth limit; the peak RSS counter is reset before each
#      (clear_refs), so each figure is that delivery's alone.
# Prints the figures. Loopback only. Usage: bench/run.sh [HOTELS DAYS [SECONDS]]
set -euo pipefail
cd "$(dirname "$0")/.."
hotels=${1:-500}; days=${2:-365}; seconds=${3:-10}

command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null 2>&1 || sudo apt-get install -y -qq wrk >/dev/null; }
source bench/lib.sh
bench_setup esr-bench
export ESR_BENCH_AUTH="Bearer bench-token"

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
start=$(now)
start_daemon
ready=$(now)
sleep 1
idle_rss=$(rss_kb "$daemon_pid")
idle_anon=$(awk '/^RssAnon/ {print $2}' "/proc/$daemon_pid/status")  # the rest is shared-library pages

# Warm-up, not measured: a fresh cluster creates (and zero-fills) every WAL segment it writes until
# its first checkpoint; a PostgreSQL that has been running recycles them. Fifteen seconds of load and
# a CHECKPOINT stand in for that, so the runs below see a database in its steady state.
wrk -t2 -c64 -d15s -s bench/small-delivery.lua "http://127.0.0.1:$port/" >/dev/null
psql -q "$url" -c CHECKPOINT

# One line per wrk run: rate, latency, non-2xx, CPU per delivery of the receiver and of PostgreSQL.
summarize_wrk() {
  local n; n=$(awk '/requests in/ {print $1}' "$1")
  awk -v n="$n" -v d="$2" -v p="$3" -v who="$4" -v hz="$(getconf CLK_TCK)" \
    '/^Requests\/sec/ {rps = $2} $1 == "50%" {p50 = $2} $1 == "99%" {p99 = $2} /Non-2xx/ {bad = $5}
     END {printf "%.0f/s p50 %s p99 %s non-2xx %d; CPU per delivery: %s %.0f us, PostgreSQL %.0f us",
          rps, p50, p99, bad, who, d * 1e6 / hz / n, p * 1e6 / hz / n}' "$1"
}
small_runs=()
for run in 1 2 3; do
  d0=$(cpu_ticks "$daemon_pid"); p0=$(pg_ticks)
  wrk -t2 -c64 -d"${seconds}s" --latency -s bench/small-delivery.lua "http://127.0.0.1:$port/" >"$work/wrk.out"
  d1=$(cpu_ticks "$daemon_pid"); p1=$(pg_ticks)
  [ -n "${ESR_BENCH_VERBOSE:-}" ] && cat "$work/wrk.out"
  small_runs+=("$(summarize_wrk "$work/wrk.out" $((d1 - d0)) $((p1 - p0)) daemon)")
  errors=$(grep -E "Socket errors" "$work/wrk.out" || true)
  if [ -n "$errors" ]; then echo "wrk run $run: $errors"; fi
done
small_hwm=$(hwm_kb "$daemon_pid")

# The peer, alone on the machine as ours was (ours is idle meanwhile), against the same PostgreSQL.
peer_runs=() peer_port=""
if [ -z "${ESR_BENCH_NO_PEER:-}" ]; then
  cp -r bench/peer-fastify "$work/peer" && (cd "$work/peer" && npm ci --silent >/dev/null 2>&1)
  psql -q "$url" -f "$work/peer/schema.sql" >/dev/null
  peer_port=$(( port + 1 )); until port_is_free "$peer_port"; do peer_port=$(( peer_port + 1 )); done
  DATABASE_URL=$url PORT=$peer_port node "$work/peer/server.js" >"$work/peer.log" 2>&1 &
  peer_pid=$!
  until curl -s -o /dev/null "http://127.0.0.1:$peer_port/" 2>/dev/null; do
    kill -0 "$peer_pid" 2>/dev/null || { echo "the peer did not start:"; cat "$work/peer.log"; exit 1; }
    sleep 0.05
  done
  export ESR_BENCH_AUTH="Bearer 71a49c4c-5694-11ec-bf63-0242ac130002" ESR_BENCH_ATTENDEE=300
  wrk -t2 -c64 -d5s -s bench/small-delivery.lua "http://127.0.0.1:$peer_port/" >/dev/null  # JIT warm-up
  for run in 1 2 3; do
    d0=$(cpu_ticks "$peer_pid"); p0=$(pg_ticks)
    wrk -t2 -c64 -d"${seconds}s" --latency -s bench/small-delivery.lua "http://127.0.0.1:$peer_port/" >"$work/wrk.out"
    d1=$(cpu_ticks "$peer_pid"); p1=$(pg_ticks)
    peer_runs+=("$(summarize_wrk "$work/wrk.out" $((d1 - d0)) $((p1 - p0)) peer)")
  done
  export ESR_BENCH_AUTH="Bearer bench-token"; unset ESR_BENCH_ATTENDEE
fi

build-bench/esr-bench-matrix "$hotels" "$days" 1 "$work/matrix.json" "$work/matrix.tsv"
body_bytes=$(stat -c %s "$work/matrix.json")
rows=$(wc -l <"$work/matrix.tsv")

# Reference: the same rows by a bare COPY (text format) into a table with hotel_demand's columns and
# just a primary key.
psql -q "$url" -c "CREATE TABLE public.copy_reference (LIKE eventsshop.hotel_demand INCLUDING DEFAULTS);
  ALTER TABLE public.copy_reference ALTER delivery_id SET DEFAULT 0, ALTER observed_at SET DEFAULT now(),
    ADD PRIMARY KEY (hotel_code, stay_date);"
# Each of the two starts from a fresh checkpoint, a VACUUM and no autovacuum worker at work: the small
# runs (and the peer's) leave a few hundred MB of WAL and a million new rows behind, whose checkpoint
# and vacuum would otherwise land in one of them by chance.
quiet_database() {
  local waited=0
  while [ "$(psql -qAt "$url" -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'")" != 0 ] &&
        [ "$waited" -lt 600 ]; do sleep 0.1; waited=$((waited + 1)); done
  # and leave autovacuum nothing to start on meanwhile (the COPY's own 182,500 rows, say)
  psql -q "$url" -c "VACUUM (ANALYZE)"
  psql -q "$url" -c CHECKPOINT
  [ "$waited" -gt 0 ] && echo "        (the COPY or the matrix waited $((waited / 10)) s for autovacuum first)" >>"$work/quiet.log"
  return 0
}
quiet_database
t0=$(now)
psql -q "$url" -c "\\copy public.copy_reference (demand_id, hotel_code, hotel_name, city, country, stay_date, absolute_demand, relative_demand, events_registered) FROM '$work/matrix.tsv'"
copy_seconds=$(echo "$(now) - $t0" | bc -l)

quiet_database
echo 5 >"/proc/$daemon_pid/clear_refs"  # restart the peak RSS counter from the current RSS
before_hwm=$(hwm_kb "$daemon_pid")
t1=$(now)
large_seconds=$(curl -s -o "$work/large.out" -w '%{time_total}' -H "Authorization: $ESR_BENCH_AUTH" \
  --data-binary @"$work/matrix.json" "http://127.0.0.1:$port/hoteldemand")
large_hwm=$(hwm_kb "$daemon_pid")
grep -q '"records"' "$work/large.out" || { echo "large delivery failed: $(cat "$work/large.out")"; exit 1; }
# hotel_demand_latest is brought up to date after the 202: how long it trails.
until [ "$(psql -qAt "$url" -c "SELECT count(*) FROM eventsshop.deliveries WHERE latest_pending")" = 0 ]; do
  [ "$(echo "$(now) - $t1 > 300" | bc -l)" = 1 ] && { echo "hotel_demand_latest not up to date 300 s after the matrix; the daemon said:"; tail -20 "$work/daemon.log"; exit 1; }
  sleep 0.05
done
latest_seconds=$(echo "$(now) - $t1" | bc -l)
stored=$(psql -qAt "$url" -c "SELECT count(*) FROM eventsshop.deliveries")

peer_large=""
if [ -n "$peer_pid" ]; then
  # The peer takes rows only as a bare array (it reads the envelope as a row without a date): the
  # same rows without their envelope.
  rows_at=$(grep -bo '\[' "$work/matrix.json" | head -1 | cut -d: -f1)
  tail -c +$((rows_at + 1)) "$work/matrix.json" | sed '$ s/}$//' >"$work/matrix-rows.json"
  peer_large=$(curl -s -o "$work/peer-large.out" -w '%{http_code} %{time_total}' \
    -H "Authorization: Bearer 71a49c4c-5694-11ec-bf63-0242ac130002" -H "Content-Type: application/json" \
    --data-binary @"$work/matrix-rows.json" "http://127.0.0.1:$peer_port/")
fi

# Body shapes, each MB-sized body its own peak: what memory follows is the shape, not only the size.
awk -v mb=20 'BEGIN {
  pad = sprintf("%560s", ""); gsub(/ /, "x", pad); printf "["; n = 0
  while (n < mb * 1048576) {
    s = sprintf("%s{\"eventId\": %d, \"eventName\": \"Shape concert %d\", \"category\": \"1\", \"description\": \"%s\", \"startDate\": \"2026-10-02\", \"endDate\": \"2026-10-03\", \"estimatedAttendee\": \"100-500\", \"venue\": \"Wilson Center\", \"city\": \"Wilmington\", \"country\": \"United States\", \"lat\": \"34.2423\", \"lng\": \"-77.9476\", \"eventStatusCode\": 1}",
                n ? ",\n" : "", 900000000 + n, n, pad)
    printf "%s", s; n += length(s)
  }
  print "]" }' >"$work/shape-events.json"
awk -v mb=10 'BEGIN { printf "[{}"; for (n = 3; n < mb * 1048576; n += 3) printf ",{}"; print "]" }' >"$work/shape-empty.json"
awk -v mb=10 -v depth=500 'BEGIN {
  head = ""; tail = ""; for (i = 0; i < depth; i++) { head = head "{\"a\":"; tail = tail "}" }
  printf "["; for (n = 0; n < mb * 1048576; n += length(head) + length(tail) + 2) printf "%s%s%d%s", n ? "," : "", head, n, tail
  print "]" }' >"$work/shape-nested.json"
# Each shape in a daemon of its own, so that no earlier body's heap is counted in its peak.
shape_lines=()
for shape in events:/eventsinfo empty:/ nested:/; do
  name=${shape%%:*}; path=${shape#*:}; file="$work/shape-$name.json"
  start_daemon
  answer=$(curl -s -o "$work/shape.out" -w '%{http_code} %{time_total}' -H "Authorization: $ESR_BENCH_AUTH" \
    --data-binary @"$file" "http://127.0.0.1:$port$path")
  size=$(stat -c %s "$file")
  sleep 0.5  # what the daemon keeps once the delivery is done (the large lane gives memory back after its answer)
  shape_lines+=("$(awk -v name="$name" -v b="$size" -v h="$(hwm_kb "$daemon_pid")" -v r="$(rss_kb "$daemon_pid")" -v a="$answer" 'BEGIN {
    printf "%-7s %5.1f MB body: peak RSS %6.1f MB (target <= %5.1f MB), %5.1f MB after; answer %s in %s s", name, b/1048576, h/1024, 2*b/1048576+30, r/1024, substr(a, 1, 3), substr(a, 5) }')")
done


ESR_CORES=$(nproc) awk -v b="$body_bytes" -v r="$rows" -v c="$copy_seconds" -v l="$large_seconds" -v bh="$before_hwm" \
    -v lh="$large_hwm" -v ir="$idle_rss" -v ia="$idle_anon" -v rd="$(echo "$ready - $start" | bc -l)" \
    -v ls="$latest_seconds" -v qw="$(sed 's/$/\\n/' "$work/quiet.log" 2>/dev/null | tr -d '\n')" \
    -v st="$stored" -v sh="$small_hwm" -v sec="$seconds" 'BEGIN {
  printf "machine: %s cores, PostgreSQL 15 on the same machine, fsync on\n", ENVIRON["ESR_CORES"]
  printf "idle:   RSS %.1f MB (anonymous %.1f MB); ready %.0f ms after start\n", ir/1024, ia/1024, rd*1000
  printf "large:  %d rows, %.1f MB body: %.2f s (raw COPY of the same rows: %.2f s, ratio %.2fx)\n", r, b/1048576, l, c, l/c
  printf "        hotel_demand_latest up to date %.2f s after it was sent (%.2f s after its 202)\n", ls, ls-l
  printf "        peak RSS %.1f MB (before it: %.1f MB; target <= 2 x body + 30 MB = %.1f MB)\n", lh/1024, bh/1024, 2*b/1048576+30
  printf "%s", qw
  printf "small:  ~1 KB deliveries, 64 connections, three runs of %d s after a warm-up; peak RSS %.1f MB\n", sec, sh/1024
  printf "stored: %d deliveries in total\n", st
}'
for r in "${small_runs[@]}"; do echo "        $r"; done
if [ -n "$peer_pid" ]; then
  echo "peer:   bench/peer-fastify (Fastify + node-postgres), the same small deliveries and load"
  for r in "${peer_runs[@]}"; do echo "        $r"; done
  ours=$(printf '%s\n' "${small_runs[@]}" | awk -F/ '{s += $1} END {print s / NR}')
  theirs=$(printf '%s\n' "${peer_runs[@]}" | awk -F/ '{s += $1} END {print s / NR}')
  awk -v o="$ours" -v t="$theirs" 'BEGIN {printf "        ratio, mean of three runs each: %.1fx the peer (%.0f/s against %.0f/s; target >= 6x)\n", o/t, o, t}'
  awk -v p="$peer_large" -v c="$copy_seconds" 'BEGIN {split(p, f, " "); printf "        the city matrix to the peer: %s in %.2f s (%.2fx the bare COPY)\n", f[1], f[2], f[2]/c}'
fi
echo "shapes: peak RSS of the daemon per body (each measured alone)"
for r in "${shape_lines[@]}"; do echo "        $r"; done
exit 0
