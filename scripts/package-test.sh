#!/usr/bin/env bash
# Builds the .deb from a build directory, installs it with dpkg, and runs the installed binary:
# --version, and migrate against a throwaway PostgreSQL. Removes the package afterwards. Root only.
#   scripts/package-test.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}

(cd "$build" && cpack -G DEB >/dev/null)
deb=$(ls "$build"/eventsshop-receiver_*.deb | head -n 1)
dpkg-deb --info "$deb" | sed -n '/Package:/,/Description:/p'
dpkg -i "$deb" >/dev/null
trap 'dpkg -r eventsshop-receiver >/dev/null 2>&1 || true' EXIT

/usr/bin/eventsshop-receiver --version
test -f /usr/share/eventsshop-receiver/schema/001_deliveries.sql
test -f /usr/lib/systemd/system/eventsshop-receiver.service

work=$(mktemp -d /tmp/esr-package-XXXXXX); chmod 755 "$work"
url=$(scripts/pg.sh start "$work/pg" --fast)
status=0
ESR_DATABASE_URL=$url /usr/bin/eventsshop-receiver migrate || status=$?
scripts/pg.sh stop "$work/pg"
rm -rf "$work"
[ "$status" -eq 0 ] || { echo "package test: migrate from the installed package failed" >&2; exit 1; }
echo "package test: $(basename "$deb") installs; --version and migrate work from the installed files"
