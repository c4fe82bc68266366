#!/usr/bin/env bash
# Installs the package as a user would and runs it as its unit would, without systemd (none runs
# here): the unit's ExecStart= line read from the installed unit file, run as the unit's User= with
# the environment systemd gives it ($STATE_DIRECTORY, $CREDENTIALS_DIRECTORY, UMask), the installed
# config file edited only where docs/operations.md says to edit it, PostgreSQL reached as the docs
# say (a role named after the service user, over the Unix socket).
#   1. install: system user, conffile mode, unit, man page
#   2. start with PostgreSQL down: it listens and spools; PostgreSQL up: it migrates and drains
#   3. reload (SIGHUP, the unit's ExecReload=) with rotated credentials while deliveries flow
#   4. upgrade to a rebuilt package with a higher version: the edited conffile is kept
#   5. remove (conffile and user stay), purge (conffile and state gone)
# Root only. Usage: scripts/package-test.sh [DEB]   (default: builds one with scripts/package.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "package test: $*" >&2; exit 1; }
step() { echo "package test: $*"; }

deb=${1:-$(scripts/package.sh build-deb | tail -n 1)}
work=$(mktemp -d /tmp/esr-package-XXXXXX); chmod 755 "$work"
daemon=""
cleanup() {
  [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null || true
  scripts/pg.sh stop "$work/pg" >/dev/null 2>&1 || true
  dpkg -P eventsshop-receiver >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# 1. Install.
dpkg -i "$deb" >/dev/null
unit=/lib/systemd/system/eventsshop-receiver.service
conf=/etc/eventsshop-receiver/eventsshop-receiver.conf
user=$(sed -n 's/^User=//p' "$unit")
[ "$user" = eventsshop-receiver ] || fail "the unit's User= is '$user'"
id "$user" >/dev/null || fail "no system user $user"
[ "$(stat -c '%a %U %G' "$conf")" = "640 root $user" ] || fail "$conf is $(stat -c '%a %U %G' "$conf")"
[ -f /usr/share/man/man1/eventsshop-receiver.1.gz ] || fail "no man page"
/usr/bin/eventsshop-receiver --version
step "installed: user $user, $conf 640 root:$user, unit, man page"

# The database as docs/operations.md sets it up: a role named after the service user.
url=$(scripts/pg.sh start "$work/pg")  # fsync on: the durable defaults
port=$(cat "$work/pg/port")
runuser -u postgres -- psql -q -h 127.0.0.1 -p "$port" -d postgres \
  -c "CREATE ROLE \"$user\" LOGIN" -c "ALTER DATABASE eventsshop OWNER TO \"$user\""
# The two lines the docs say to edit: where to listen, and the database.
listen_port=$(( 20000 + RANDOM % 10000 ))
sed -i -e "s|^listen = .*|listen = 127.0.0.1:$listen_port|" \
       -e "s|^database-url = .*|database-url = postgresql://$user@/eventsshop?host=$work/pg\&port=$port|" "$conf"
# What systemd gives the service: its state directory and its credentials (copies it may read).
mkdir -p /var/lib/eventsshop-receiver "$work/credentials"
chown "$user:$user" /var/lib/eventsshop-receiver
printf 'old-token-0123456789\n' >"$work/credentials/bearer-tokens"
printf 'basic pw\n' >"$work/credentials/basic-password"
chown -R "$user" "$work/credentials"; chmod 0500 "$work/credentials"; chmod 0400 "$work/credentials"/*
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
umask_value=$(sed -n 's/^UMask=//p' "$unit")

# 2. Start with PostgreSQL down.
scripts/pg.sh stop "$work/pg"
# shellcheck disable=SC2086  # the unit's command line, split as systemd splits it (no quotes in it)
# setpriv, not runuser: it execs in place, so $! is the daemon itself and signals reach it.
setpriv --reuid="$user" --regid="$user" --init-groups sh -c "umask $umask_value; exec env STATE_DIRECTORY=/var/lib/eventsshop-receiver \
  CREDENTIALS_DIRECTORY=$work/credentials $exec_start" >"$work/daemon.log" 2>&1 &
daemon=$!
base=http://127.0.0.1:$listen_port
for _ in $(seq 1 100); do curl -fs "$base/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs "$base/healthz" >/dev/null || { cat "$work/daemon.log" >&2; fail "the daemon does not listen with PostgreSQL down"; }
post() { curl -s -o "$work/answer" -w '%{http_code}' -H "Authorization: Bearer $1" --data-binary @"$2" "$base/"; }
code=$(post old-token-0123456789 tests/fixtures/eventsinfo-object.json)
[ "$code" = 202 ] && grep -q '"spooled":true' "$work/answer" || fail "with PostgreSQL down: $code $(cat "$work/answer")"
[ "$(stat -c '%a' /var/lib/eventsshop-receiver/spool/spool.log)" = 600 ] || fail "the spool is not private (UMask)"
step "started with PostgreSQL down: listening, delivery spooled"
scripts/pg.sh start "$work/pg" >/dev/null
for _ in $(seq 1 300); do
  curl -fs "$base/readyz" 2>/dev/null | grep -q '"records":0' && break; sleep 0.1
done
curl -fs "$base/readyz" | grep -q '"records":0' || { tail -20 "$work/daemon.log" >&2; fail "the spool was not drained"; }
stored=$(runuser -u postgres -- psql -qAt -h 127.0.0.1 -p "$port" -d eventsshop -c "SELECT count(*) FROM eventsshop.deliveries")
[ "$stored" = 1 ] || fail "$stored deliveries stored, expected 1"
step "PostgreSQL up: migrated by the daemon, spool drained, delivery stored"

# 3. Reload with rotated credentials while deliveries flow.
printf '{"eventId": %s}' 1 >"$work/body"
(for i in $(seq 1 200); do printf '{"eventId": %s}' "$((700000 + i))" >"$work/flow"; post old-token-0123456789 "$work/flow"; echo; done) >"$work/flow.codes" &
flow=$!
chmod 0700 "$work/credentials"; printf 'new-token-abcdefghij,old-token-0123456789\n' >"$work/credentials/bearer-tokens"; chmod 0500 "$work/credentials"
kill -HUP "$daemon"
wait "$flow"
bad=$(grep -vc '^20[02]$' "$work/flow.codes" || true)
[ "$bad" = 0 ] || fail "$bad deliveries not acknowledged during the reload: $(sort "$work/flow.codes" | uniq -c)"
code=$(post new-token-abcdefghij "$work/body")
[ "$code" = 202 ] || { grep -v "\"request\"" "$work/daemon.log" | tail -5 >&2; fail "the rotated token is not accepted after reload: $code $(cat "$work/answer")"; }
grep -q '"msg":"reloaded"' "$work/daemon.log" || fail "no reload in the log"
step "reloaded with a rotated token: 200 deliveries during it, all acknowledged"
kill -TERM "$daemon"; wait "$daemon" || fail "the daemon did not exit 0 on SIGTERM"; daemon=""
# What `journalctl -u eventsshop-receiver -o cat | jq` reads (docs/operations.md).
jq -c . "$work/daemon.log" >/dev/null || fail "a log line is not JSON"

# 4. Upgrade: the same source as a higher version; the edited conffile stays.
deb2=$(ESR_DEB_VERSION="$(dpkg-deb -f "$deb" Version)+1" scripts/package.sh "$work/deb2" | tail -n 1)
dpkg -i --force-confold "$deb2" >/dev/null
[ "$(dpkg-query -W -f='${Version}' eventsshop-receiver)" = "$(dpkg-deb -f "$deb2" Version)" ] || fail "not upgraded"
grep -q "listen = 127.0.0.1:$listen_port" "$conf" || fail "the upgrade replaced the edited conffile"
step "upgraded to $(dpkg-deb -f "$deb2" Version): edited conffile kept"

# 5. Remove, then purge.
dpkg -r eventsshop-receiver >/dev/null
[ ! -e /usr/bin/eventsshop-receiver ] && [ -f "$conf" ] || fail "remove: binary left or conffile gone"
dpkg -P eventsshop-receiver >/dev/null
[ ! -e "$conf" ] && [ ! -e /var/lib/eventsshop-receiver ] || fail "purge left the conffile or the state"
step "removed (conffile kept), purged (conffile and state gone)"
