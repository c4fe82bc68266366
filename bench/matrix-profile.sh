#!/usr/bin/env bash
# Where a city matrix's time goes (the README's "what stands in the way"): MATRICES matrices
# (HOTELS x DAYS, each with its own figures, the same hotels and nights) posted one after another
# to one daemon on a throwaway PostgreSQL (fsync on). For each: the time to its 202, the CPU the
# daemon and the whole PostgreSQL cluster spent until then (from /proc), how long
# hotel_demand_latest trailed and their CPU meanwhile; then the large lane's own log line per
# matrix (derived_ms: the parse with the rows' COPY; total_ms: with the delivery's row and commit).
# Loopback only. Usage: bench/matrix-profile.sh [HOTELS DAYS [MATRICES]]
set -euo pipefail
cd "$(dirname "$0")/.."
hotels=${1:-500}; days=${2:-365}; matrices=${3:-4}
source bench/lib.sh
bench_setup esr-matrix-profile
start_daemon
ms() { echo $(( ($1) * 1000 / $(getconf CLK_TCK) )); }
for seed in $(seq "$matrices"); do
  build-bench/esr-bench-matrix "$hotels" "$days" "$seed" "$work/m$seed.json" "$work/m$seed.tsv"
done
for seed in $(seq "$matrices"); do
  psql -q "$url" -c "VACUUM (ANALYZE)"; psql -q "$url" -c CHECKPOINT
  d0=$(cpu_ticks "$daemon_pid"); p0=$(pg_ticks)
  took=$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer bench-token" \
    --data-binary @"$work/m$seed.json" "http://127.0.0.1:$port/hoteldemand")
  t1=$(now); d1=$(cpu_ticks "$daemon_pid"); p1=$(pg_ticks)
  until [ "$(psql -qAt "$url" -c "SELECT count(*) FROM eventsshop.deliveries WHERE latest_pending")" = 0 ]; do sleep 0.05; done
  t2=$(now); d2=$(cpu_ticks "$daemon_pid"); p2=$(pg_ticks)
  printf 'matrix %d: 202 after %.2f s (daemon CPU %d ms, PostgreSQL CPU %d ms); latest %.2f s later (daemon %d ms, PostgreSQL %d ms)\n' \
    "$seed" "$took" "$(ms $((d1 - d0)))" "$(ms $((p1 - p0)))" "$(echo "$t2 - $t1" | bc -l)" "$(ms $((d2 - d1)))" "$(ms $((p2 - p1)))"
done
grep '"large delivery stored"' "$work/daemon.log"
