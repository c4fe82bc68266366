#!/usr/bin/env bash
# Installs what is missing, builds, starts a local PostgreSQL when ESR_DATABASE_URL is not set,
# migrates, and runs the daemon on 127.0.0.1:8080 with credentials it prints. Extra arguments go to
# `eventsshop-receiver serve`. Ctrl-C stops the daemon and the local PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target eventsshop-receiver
bin=$repo/build/eventsshop-receiver

state=$repo/.local
mkdir -p "$state"
chmod 700 "$state"

if [ ! -f "$state/credentials" ]; then
  random() { head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
  {
    echo "ESR_BASIC_USER=eventsshop"
    echo "ESR_BASIC_PASSWORD=$(random)"
    echo "ESR_BEARER_TOKENS=$(random)"
  } >"$state/credentials"
fi
set -a
# shellcheck disable=SC1091
. "$state/credentials"
set +a

pg_dir=""
if [ -z "${ESR_DATABASE_URL:-}" ]; then
  # PostgreSQL runs as the postgres user when we are root; it needs a directory it can reach.
  pg_dir=/tmp/eventsshop-receiver-$(id -u)/pg
  mkdir -p "$(dirname "$pg_dir")"
  chmod 755 "$(dirname "$pg_dir")"
  ESR_DATABASE_URL=$(scripts/pg.sh start "$pg_dir")
  export ESR_DATABASE_URL
  trap 'scripts/pg.sh stop "$pg_dir"' EXIT
fi

"$bin" migrate
export ESR_STATE_DIR=${ESR_STATE_DIR:-$state/state}  # the spool, for while PostgreSQL is away

listen=${ESR_LISTEN:-127.0.0.1:8080}
cat <<MSG

eventsshop-receiver is starting on http://$listen/
  database:     $ESR_DATABASE_URL
  Basic auth:   user '$ESR_BASIC_USER', password '$ESR_BASIC_PASSWORD'
  Bearer token: $ESR_BEARER_TOKENS
  (kept in $state/credentials; delete that file for new ones)

Try:
  curl -u '$ESR_BASIC_USER:$ESR_BASIC_PASSWORD' --data-binary @tests/fixtures/eventsinfo-object.json http://$listen/
  curl -H 'Authorization: Bearer $ESR_BEARER_TOKENS' --data-binary @tests/fixtures/hoteldemand-hotel.json http://$listen/hoteldemand
  psql '$ESR_DATABASE_URL' -c 'SELECT id, received_at, kind, byte_size, principal FROM eventsshop.deliveries'

MSG
"$bin" serve --listen "$listen" "$@"
