#!/usr/bin/env bash
# Installs the package as a user would and runs it as its unit would. No systemd runs here, so
# tests/package/systemctl stands in for systemctl: it runs the installed unit's own ExecStart= and
# ExecReload= lines as its User=, with the environment systemd gives (LoadCredential= copies in
# $CREDENTIALS_DIRECTORY, $STATE_DIRECTORY, UMask=), and records what the maintainer scripts ask of
# it. The commands of docs/operations.md (its "run:" blocks) are run verbatim, with PostgreSQL
# reached as the docs say (a role named after the service user, over the Unix socket).
#   1. install: system user, conffile mode, generated secrets, unit enabled and started, man page
#   2. start with PostgreSQL down: it listens and spools; PostgreSQL up: it migrates and drains
#   3. check-config and register from a shell; reload with a rotated token while deliveries flow
#   4. upgrade to a rebuilt package with a higher version: conffile kept, daemon restarted
#   5. remove (daemon stopped; conffile and user stay), purge (conffile, secrets and state gone)
#   6. install from source as the docs say, in a clone: the unit runs the binary the install put in place
# Root only. Usage: scripts/package-test.sh [DEB]   (default: builds one with scripts/package.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
fail() { echo "package test: $*" >&2; exit 1; }
step() { echo "package test: $*"; }

deb=$(realpath "${1:-$(scripts/package.sh build-deb | tail -n 1)}")
work=$(mktemp -d /tmp/esr-package-XXXXXX); chmod 755 "$work"
made_run_systemd=""
policy=/usr/sbin/policy-rc.d
cleanup() {
  [ -e "$policy.esr-package-test" ] && mv "$policy.esr-package-test" "$policy"
  systemctl stop eventsshop-receiver >/dev/null 2>&1 || true
  scripts/pg.sh stop "$work/pg" >/dev/null 2>&1 || true
  dpkg -P eventsshop-receiver >/dev/null 2>&1 || true
  [ -n "$made_run_systemd" ] && rmdir /run/systemd/system /run/systemd 2>/dev/null || true
  rm -f /var/backups/eventsshop.dump
  if [ -f "$work/src/build/install_manifest.txt" ]; then
    xargs rm -f <"$work/src/build/install_manifest.txt"
    rm -rf /etc/eventsshop-receiver /var/lib/eventsshop-receiver /etc/systemd/system/multi-user.target.wants/eventsshop-receiver.service
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# The stand-ins. /run/systemd/system tells the maintainer scripts that systemd runs, so they call
# systemctl (ours) as they would on a real machine.
mkdir -p "$work/bin" "$work/systemd"
ln -s "$repo/tests/package/systemctl" "$work/bin/systemctl"
printf '#!/bin/sh\n# journalctl -u eventsshop-receiver -o cat: what the unit wrote\ncat "$ESR_FAKE_SYSTEMD/journal"\n' >"$work/bin/journalctl"
chmod +x "$work/bin/journalctl"
export PATH="$work/bin:$PATH" ESR_FAKE_SYSTEMD="$work/systemd"
if [ ! -d /run/systemd/system ]; then mkdir -p /run/systemd/system; made_run_systemd=yes; fi
# Container images forbid starting services from maintainer scripts; this test is about exactly
# that, so the policy steps aside until the end.
[ -e "$policy" ] && mv "$policy" "$policy.esr-package-test"

# Runs the block of docs/operations.md marked <!-- run: NAME -->, verbatim.
docs() {
  local block
  block=$(awk -v name="$1" '
    $0 ~ "<!-- run: " name " -->" { armed = 1; next }
    armed && /```sh/ { inside = 1; next }
    inside && /```/ { exit }
    inside { sub(/^ +/, ""); print }' docs/operations.md)
  [ -n "$block" ] || fail "no block '$1' in docs/operations.md"
  (cd "${docs_dir:-$work}" && bash -euo pipefail -c "$block") || { echo "package test: docs/operations.md '$1' failed" >&2; return 1; }
}

# 1. Install, with PostgreSQL not yet set up (the daemon starts anyway and spools).
docs_dir=$(dirname "$deb") docs install >/dev/null
unit=/lib/systemd/system/eventsshop-receiver.service
conf=/etc/eventsshop-receiver/eventsshop-receiver.conf
user=$(sed -n 's/^User=//p' "$unit")
[ "$user" = eventsshop-receiver ] || fail "the unit's User= is '$user'"
id "$user" >/dev/null || fail "no system user $user"
[ "$(stat -c '%a %U %G' "$conf")" = "640 root $user" ] || fail "$conf is $(stat -c '%a %U %G' "$conf")"
for secret in basic-password bearer-tokens; do
  [ "$(stat -c '%a %U' "/etc/eventsshop-receiver/$secret")" = "600 root" ] || fail "no private generated $secret"
  [ "$(wc -c <"/etc/eventsshop-receiver/$secret")" -ge 32 ] || fail "the generated $secret is short"
done
[ -L /etc/systemd/system/multi-user.target.wants/eventsshop-receiver.service ] || fail "the unit is not enabled"
grep -q '^--system --quiet start eventsshop-receiver.service\|start eventsshop-receiver.service' "$work/systemd/calls" \
  || fail "postinst did not start the unit: $(cat "$work/systemd/calls")"
systemctl is-active eventsshop-receiver || fail "the unit is not running after install"
[ -L /etc/systemd/system/timers.target.wants/eventsshop-receiver-prune.timer ] || fail "the retention timer is not enabled"
systemctl is-active eventsshop-receiver-prune.timer || fail "postinst did not start the retention timer"
grep -q 'start.*eventsshop-receiver-prune.service' "$work/systemd/calls" && fail "postinst ran the prune service"
[ -f /usr/share/man/man1/eventsshop-receiver.1.gz ] || fail "no man page"
/usr/bin/eventsshop-receiver --version
step "installed: user $user, $conf 640 root:$user, secrets generated, unit enabled and started, retention timer enabled, man page"

# The database as docs/operations.md sets it up, on a throwaway PostgreSQL (fsync on) whose socket
# directory stands in for /run/postgresql.
scripts/pg.sh start "$work/pg" >/dev/null
export PGHOST=$work/pg PGPORT
PGPORT=$(cat "$work/pg/port")
runuser -u postgres -- dropdb eventsshop
docs database
# The line the docs say to edit: where the database is (its socket directory, here).
sed -i -e "s|^database-url = .*|database-url = postgresql://$user@/eventsshop?host=$PGHOST\&port=$PGPORT|" "$conf"

# 2. Start with PostgreSQL down.
scripts/pg.sh stop "$work/pg"
docs restart >/dev/null
base=http://127.0.0.1:8080
token=$(cut -d, -f1 /etc/eventsshop-receiver/bearer-tokens)
post() { curl -s -o "$work/answer" -w '%{http_code}' -H "Authorization: Bearer $1" --data-binary @"$2" "$base/"; }
code=$(post "$token" tests/fixtures/eventsinfo-object.json)
[ "$code" = 202 ] && grep -q '"spooled":true' "$work/answer" || fail "with PostgreSQL down: $code $(cat "$work/answer")"
[ "$(stat -c '%a' /var/lib/eventsshop-receiver/spool/spool.log)" = 600 ] || fail "the spool is not private (UMask)"
step "started with PostgreSQL down: listening, delivery spooled"
scripts/pg.sh start "$work/pg" >/dev/null
for _ in $(seq 1 300); do
  curl -fs "$base/readyz" 2>/dev/null | grep -q '"records":0' && break; sleep 0.1
done
curl -fs "$base/readyz" | grep -q '"records":0' || { tail -20 "$work/systemd/journal" >&2; fail "the spool was not drained"; }
stored=$(runuser -u postgres -- psql -qAt -d eventsshop -c "SELECT count(*) FROM eventsshop.deliveries")
[ "$stored" = 1 ] || fail "$stored deliveries stored, expected 1"
step "PostgreSQL up: migrated by the daemon, spool drained, delivery stored"

# 3. From a shell: check-config and register (dry run), as the docs write them.
docs check-config | grep -q '^# bearer-tokens: 1 set (redacted)' || fail "check-config does not see the unit's secrets"
docs check-config | grep -q "$token" && fail "check-config shows a secret"
printf 'account password\n' >/etc/eventsshop-receiver/eventsshop-password; chmod 600 /etc/eventsshop-receiver/eventsshop-password
docs register | grep -q 'https://receiver.example.com/' || fail "register --dry-run"
rm /etc/eventsshop-receiver/eventsshop-password
step "check-config and register --dry-run from a shell, with the unit's secrets"

# Reload with a rotated token while deliveries flow (the docs' rotation).
docs rotation-setup >/dev/null
(for i in $(seq 1 200); do printf '{"eventId": %s}' "$((700000 + i))" >"$work/flow"; post "$token" "$work/flow"; echo; done) >"$work/flow.codes" &
flow=$!
NEW_TOKEN=new-token-abcdefghij0123456789 docs rotate
wait "$flow"
bad=$(grep -vc '^20[02]$' "$work/flow.codes" || true)
[ "$bad" = 0 ] || fail "$bad deliveries not acknowledged during the reload: $(sort "$work/flow.codes" | uniq -c)"
printf '{"eventId": %s}' 1 >"$work/body"
code=$(post new-token-abcdefghij0123456789 "$work/body")
[ "$code" = 202 ] || fail "the rotated token is not accepted after reload: $code $(cat "$work/answer")"
grep -q '"msg":"reloaded"' "$work/systemd/journal" || fail "no reload in the log"
printf '{"eventId": %s}' 2 >"$work/old-token-body"
code=$(post "$token" "$work/old-token-body")
[ "$code" = 202 ] || fail "the old token is refused after the rotation: $code $(cat "$work/answer")"
docs principals | grep -q 'bearer:2' || fail "the principals query shows no delivery with the old token"
step "reloaded with a rotated token: 200 deliveries during it, all acknowledged"
docs logs >/dev/null || fail "a log line is not JSON"
jq -c . "$work/systemd/journal" >/dev/null || fail "a log line is not JSON"
# Retention as the docs set it: a rejected body made a year old goes, the rest stays.
runuser -u postgres -- psql -qAt -d eventsshop -c "INSERT INTO eventsshop.rejected_deliveries (received_at, principal, path, byte_size, body_sha256, body, body_truncated, error) VALUES (now() - interval '1 year', 'bearer:1', '/', 2, sha256('{x'), '{x', false, 'not JSON')"
before=$(runuser -u postgres -- psql -qAt -d eventsshop -c "SELECT count(*) FROM eventsshop.deliveries")
printf 'keep-rejected-days = 90\nkeep-body-days = 400\nkeep-demand-days = 730\n' >>"$conf"
docs prune >"$work/prune.out" || { cat "$work/prune.out" >&2; tail -5 "$work/systemd/journal" >&2; fail "prune"; }
grep -q 'would drop rejected_deliveries: 1 rows' "$work/prune.out" || fail "prune --dry-run: $(cat "$work/prune.out")"
grep -q 'dropped rejected_deliveries: 1 rows' "$work/systemd/journal" || fail "the prune service did not drop the old rejection"
[ "$(runuser -u postgres -- psql -qAt -d eventsshop -c "SELECT count(*) FROM eventsshop.rejected_deliveries WHERE received_at < now() - interval '90 days'")" = 0 ] \
  || fail "an old rejection is left after prune"
[ "$(runuser -u postgres -- psql -qAt -d eventsshop -c "SELECT count(*) FROM eventsshop.deliveries")" = "$before" ] || fail "prune dropped recent deliveries"
step "retention: prune --dry-run from a shell, then the timer's service as its user: the old rejection gone, deliveries kept"
docs backup
[ -s /var/backups/eventsshop.dump ] || fail "no backup written"
step "logs read by jq, backup written"

# 4. Upgrade: the same source as a higher version; the edited conffile stays.
deb2=$(ESR_DEB_VERSION="$(dpkg-deb -f "$deb" Version)+1" scripts/package.sh "$work/deb2" | tail -n 1)
old_pid=$(cat "$work/systemd/pid")
dpkg -i --force-confold "$deb2" >/dev/null
[ "$(dpkg-query -W -f='${Version}' eventsshop-receiver)" = "$(dpkg-deb -f "$deb2" Version)" ] || fail "not upgraded"
grep -q "^database-url = .*host=$PGHOST" "$conf" || fail "the upgrade replaced the edited conffile"
grep -q 'restart eventsshop-receiver.service' "$work/systemd/calls" || fail "postinst did not restart the unit"
[ "$(cat "$work/systemd/pid")" != "$old_pid" ] && systemctl is-active eventsshop-receiver || fail "the daemon was not restarted"
code=$(post new-token-abcdefghij0123456789 "$work/body")
[ "$code" = 200 ] || [ "$code" = 202 ] || fail "after the upgrade: $code $(cat "$work/answer")"
docs reprocess >/dev/null
zgrep -q 'max\\-body\\-bytes' /usr/share/man/man1/eventsshop-receiver.1.gz || fail "the man page lacks serve's options"
step "upgraded to $(dpkg-deb -f "$deb2" Version): edited conffile kept, daemon restarted, reprocessed"

# 5. Remove, then purge.
pid=$(cat "$work/systemd/pid")
dpkg -r eventsshop-receiver >/dev/null
[ ! -e /usr/bin/eventsshop-receiver ] && [ -f "$conf" ] || fail "remove: binary left or conffile gone"
! kill -0 "$pid" 2>/dev/null || fail "remove did not stop the daemon"
dpkg -P eventsshop-receiver >/dev/null
[ ! -e "$conf" ] && [ ! -e /var/lib/eventsshop-receiver ] && [ ! -e /etc/eventsshop-receiver/bearer-tokens ] \
  || fail "purge left the conffile, the secrets or the state"
step "removed (daemon stopped, conffile kept), purged (conffile, secrets and state gone)"

# 6. From source, in a clone of what is committed, as the docs say; the database as before.
git clone -q "$repo" "$work/src"
docs_dir=$work/src docs source-install >"$work/source-install.log" 2>&1 || { tail -20 "$work/source-install.log" >&2; fail "the source install failed"; }
unit=/usr/local/lib/systemd/system/eventsshop-receiver.service
grep -q '^ExecStart=/usr/local/bin/eventsshop-receiver serve' "$unit" || fail "the source install's unit: $(grep ExecStart "$unit")"
systemctl is-active eventsshop-receiver || fail "the source-installed unit is not running"
sed -i -e "s|^database-url = .*|database-url = postgresql://$user@/eventsshop?host=$PGHOST\&port=$PGPORT|" "$conf"
docs restart >/dev/null
token=$(cut -d, -f1 /etc/eventsshop-receiver/bearer-tokens)
printf '{"eventId": %s}' 3 >"$work/source-body"
code=$(post "$token" "$work/source-body")
[ "$code" = 202 ] || fail "the source install does not store deliveries: $code $(cat "$work/answer")"
systemctl stop eventsshop-receiver
step "installed from source: the unit runs /usr/local/bin/eventsshop-receiver and stores deliveries"
