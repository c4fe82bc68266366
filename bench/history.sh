#!/usr/bin/env bash
# The history benchmark (issue 15): how the documented queries behave as demand history piles up.
#   bench/history.sh [DAYS [HOTELS [STAY_DAYS [RUNS]]]]      (defaults 60 500 365 7)
# A throwaway PostgreSQL (scripts/pg.sh, fsync on) and the Release daemon (build-bench), as in
# bench/run.sh. Then DAYS days of history, each day one city-wide demand matrix (HOTELS x
# STAY_DAYS rows, bench/make_demand_matrix.cpp, a new seed a day) and one eventsinfo delivery of
# 40 new events, all posted to the daemon over HTTP. The daemon stamps observed_at/received_at
# with the time it receives a delivery, so after each day's deliveries are stored (and
# hotel_demand_latest has caught up) this script moves that day's received_at/observed_at back to
# 2026-01-01 06:00 UTC + day in SQL: the rows are the daemon's own, only their timestamps are moved.
# After DAYS/2 days and after DAYS days (VACUUM ANALYZE first, as autovacuum would) it times every
# query of bench/history-queries.sql (the texts docs/queries.md quotes; the script checks they
# match): median of RUNS runs in one psql session with \timing (after one unmeasured run), and
# prints each query's plan (EXPLAIN ANALYZE, BUFFERS) once per size, then a table of both sizes.
# Loopback only; everything is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
days=${1:-60}; hotels=${2:-500}; stay_days=${3:-365}; runs=${4:-7}
half=$(( days / 2 ))
[ "$half" -ge 1 ] || { echo "DAYS must be at least 2" >&2; exit 2; }
queries_file=bench/history-queries.sql

# The queries: NAME|WHAT|TARGET lines in meta[], texts in sql[].
names=(); whats=(); targets=(); sqls=()
while IFS= read -r -d $'\x1e' block; do
  header=${block%%$'\n'*}; text=${block#*$'\n'}
  IFS='|' read -r n w t <<<"${header#-- query: }"
  trim() { sed 's/^ *//; s/ *$//' <<<"$1"; }
  names+=("$(trim "$n")"); whats+=("$(trim "$w")"); targets+=("$(trim "$t")")
  sqls+=("$text")
done < <(awk '/^-- query: / {if (q != "") printf "%s\x1e", q; q = $0 "\n"; on = 1; next}
              on && /^$/ {on = 0; next}
              on {q = q $0 (/;$/ ? "" : "\n")}
              END {if (q != "") printf "%s\x1e", q}' "$queries_file")
doc=$(cat docs/queries.md)
for i in "${!sqls[@]}"; do
  [[ "$doc" == *"${sqls[$i]}"* ]] || { echo "docs/queries.md does not quote query ${names[$i]} of $queries_file as written:" >&2; echo "${sqls[$i]}" >&2; exit 1; }
done

source bench/lib.sh
bench_setup esr-history
auth="Authorization: Bearer bench-token"
start_daemon
sql() { psql -X -qAt "$url" -c "$1"; }

# 40 new events a day in Barcelona, starting on a day of the stay-date year, 1 to 3 days long.
events_body() {
  awk -v day="$1" 'BEGIN {
    srand(day); printf "["
    for (i = 0; i < 40; i++) {
      start = 20513 + int(rand() * 365)   # days since 1970-01-01: 20513 is 2026-03-01
      len = int(rand() * 3)
      if (i) printf ","
      printf "{\"eventId\": %d, \"eventName\": \"History event %d\", \"category\": \"%d\", ", day * 1000 + i, day * 1000 + i, 1 + int(rand() * 9)
      printf "\"startDate\": \"%s\", \"endDate\": \"%s\", ", strftime("%Y-%m-%d", start * 86400, 1), strftime("%Y-%m-%d", (start + len) * 86400, 1)
      printf "\"estimatedAttendee\": \"%d-%d\", \"venue\": \"Venue %d\", \"city\": \"Barcelona\", \"country\": \"Spain\"}", 100 * (1 + i), 500 * (1 + i), i
    }
    printf "]\n" }'
}

ingest_seconds=0
last_id=0
first_day_bytes=""
ingest_day() {  # day number (0-based)
  local d=$1 t0 t1 out
  build-bench/esr-bench-matrix "$hotels" "$stay_days" "$((d + 1))" "$work/matrix.json" "$work/matrix.tsv"
  events_body "$d" >"$work/events.json"
  t0=$(now)
  out=$(curl -s -H "$auth" --data-binary @"$work/matrix.json" "http://127.0.0.1:$port/hoteldemand")
  [[ "$out" == *'"records"'* ]] || { echo "day $d: demand delivery failed: $out"; exit 1; }
  out=$(curl -s -H "$auth" --data-binary @"$work/events.json" "http://127.0.0.1:$port/eventsinfo")
  [[ "$out" == *'"records"'* ]] || { echo "day $d: events delivery failed: $out"; exit 1; }
  while [ "$(sql "SELECT count(*) FROM eventsshop.deliveries WHERE latest_pending")" != 0 ]; do sleep 0.05; done
  t1=$(now)
  ingest_seconds=$(echo "$ingest_seconds + $t1 - $t0" | bc -l)
  if [ -z "$first_day_bytes" ]; then  # one day's footprint, before any timestamp is moved
    # Partitioned tables hold nothing themselves: their sizes are their partitions' (pg_partition_tree).
    first_day_bytes=$(sql "SELECT (SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('eventsshop.hotel_demand')) || ' ' || (SELECT sum(pg_relation_size(relid)) FROM pg_partition_tree('eventsshop.hotel_demand')) || ' ' || (SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('eventsshop.deliveries')) || ' ' || (SELECT sum(byte_size) FROM eventsshop.deliveries WHERE kind = 'hoteldemand')")
  fi
  # Move this day's deliveries to their day of the history.
  psql -X -q "$url" -v ON_ERROR_STOP=1 <<SQL
BEGIN;
CREATE TEMP TABLE moved ON COMMIT DROP AS
  SELECT id FROM eventsshop.deliveries WHERE id > $last_id;
UPDATE eventsshop.deliveries SET received_at = timestamptz '2026-01-01 06:00+00' + $d * interval '1 day'
  WHERE id IN (SELECT id FROM moved);
UPDATE eventsshop.hotel_demand SET observed_at = timestamptz '2026-01-01 06:00+00' + $d * interval '1 day'
  WHERE delivery_id IN (SELECT id FROM moved);
UPDATE eventsshop.hotel_demand_latest SET observed_at = timestamptz '2026-01-01 06:00+00' + $d * interval '1 day'
  WHERE delivery_id IN (SELECT id FROM moved);
UPDATE eventsshop.events SET first_seen_at = least(first_seen_at, timestamptz '2026-01-01 06:00+00' + $d * interval '1 day'),
  last_seen_at = timestamptz '2026-01-01 06:00+00' + $d * interval '1 day' WHERE last_delivery_id IN (SELECT id FROM moved);
COMMIT;
SQL
  last_id=$(sql "SELECT max(id) FROM eventsshop.deliveries")
}

median() { sort -n | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
declare -A med rows
measure() {  # label
  local label=$1 i q
  sql "VACUUM ANALYZE" >/dev/null
  echo
  echo "=== $label: $(sql "SELECT count(DISTINCT observed_at::date) FROM eventsshop.hotel_demand") days of history, $(sql "SELECT count(*) FROM eventsshop.hotel_demand") hotel_demand rows, $(sql "SELECT count(*) FROM eventsshop.events") events"
  sql "SELECT format('    %s: table %s, with indexes and TOAST %s', c,
                     pg_size_pretty(coalesce((SELECT sum(pg_relation_size(relid)) FROM pg_partition_tree(c)), pg_relation_size(c))),
                     pg_size_pretty(coalesce((SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree(c)), pg_total_relation_size(c))))
       FROM unnest(array['eventsshop.hotel_demand', 'eventsshop.hotel_demand_latest', 'eventsshop.deliveries', 'eventsshop.events']::regclass[]) AS c"
  for i in "${!sqls[@]}"; do
    q=${sqls[$i]}
    rows[$label,$i]=$(psql -X -qAt "$url" -c "$q" | wc -l)
    med[$label,$i]=$( { echo '\timing on'; echo '\o /dev/null'; for _ in $(seq 0 "$runs"); do echo "$q"; done; } \
      | psql -X -q "$url" | awk '/^Time:/ {print $2}' | tail -n +2 | median)
    echo
    echo "--- ${names[$i]} (${whats[$i]}): ${rows[$label,$i]} rows, median ${med[$label,$i]} ms of $runs runs"
    psql -X -qAt "$url" -c "EXPLAIN (ANALYZE, BUFFERS) $q" | sed 's/^/    /'
  done
}

echo "history benchmark: $days days of $hotels hotels x $stay_days stay dates; machine: $(nproc) cores, PostgreSQL 15 fsync on, shared with other work (figures are noisy)"
echo "observed_at/received_at: each day's deliveries are posted now, then moved back to 2026-01-01 + day in SQL"
for d in $(seq 0 $((half - 1))); do ingest_day "$d"; done
ingest1=$ingest_seconds
measure size1
for d in $(seq "$half" $((days - 1))); do ingest_day "$d"; done
measure size2

read -r hd_total hd_heap del_total body_bytes <<<"$first_day_bytes"
echo
awk -v d="$days" -v s="$ingest_seconds" -v h1="$half" -v s1="$ingest1" -v ht="$hd_total" -v hh="$hd_heap" -v dt="$del_total" -v bb="$body_bytes" -v rows="$((hotels * stay_days))" 'BEGIN {
  printf "ingest: %d days through the daemon in %.0f s (%.2f s a day: matrix of %d rows + 40 events, until hotel_demand_latest caught up)\n", d, s, s / d, rows
  printf "one day (first delivery, before any UPDATE): body %.1f MB; deliveries %.1f MB (lz4); hotel_demand %.1f MB (heap %.1f MB + indexes %.1f MB)\n", bb / 1048576, dt / 1048576, ht / 1048576, hh / 1048576, (ht - hh) / 1048576 }'
echo
printf "%-14s %-44s %9s %9s %11s %11s %8s %s\n" query what "rows@$half" "rows@$days" "ms@${half}d" "ms@${days}d" target met
for i in "${!sqls[@]}"; do
  m1=${med[size1,$i]}; m2=${med[size2,$i]}; t=${targets[$i]}
  met=$(awk -v a="$m1" -v b="$m2" -v t="$t" 'BEGIN {print (a < t && b < t) ? "yes" : "NO"}')
  printf "%-14s %-44s %9s %9s %11.2f %11.2f %8s %s\n" "${names[$i]}" "${whats[$i]}" "${rows[size1,$i]}" "${rows[size2,$i]}" "$m1" "$m2" "< $t" "$met"
done
