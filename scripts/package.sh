#!/usr/bin/env bash
# Builds the Debian package the Debian way (debian/ with debhelper, dpkg-buildpackage) from the
# files git tracks, in a scratch copy (dpkg-buildpackage writes next to its source tree), checks it
# with lintian (no errors allowed), and prints the path of the .deb as its last line.
#   scripts/package.sh [OUT_DIR]      default OUT_DIR: build-deb/
#   ESR_DEB_VERSION=0.1.0+2 scripts/package.sh   the same source under another version (upgrade tests)
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mkdir -p "${1:-build-deb}" && cd "${1:-build-deb}" && pwd)

scripts/install-deps.sh
need=()
for p in debhelper dpkg-dev fakeroot help2man lintian; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

scratch=$(mktemp -d /tmp/esr-deb-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
mkdir "$scratch/src"
git ls-files -z | xargs -0 cp --parents -P -t "$scratch/src"
if [ -n "${ESR_DEB_VERSION:-}" ]; then
  # A changelog entry on top is what sets a Debian package's version.
  { printf 'eventsshop-receiver (%s) bookworm; urgency=medium\n\n  * Rebuilt as %s.\n\n' "$ESR_DEB_VERSION" "$ESR_DEB_VERSION"
    printf ' -- eventsshop-receiver maintainers <maintainers@example.com>  %s\n\n' "$(date -R)"
    cat "$scratch/src/debian/changelog"; } >"$scratch/changelog" && mv "$scratch/changelog" "$scratch/src/debian/changelog"
fi
(cd "$scratch/src" && dpkg-buildpackage -us -uc -b -j"$(nproc)" >"$scratch/build.log" 2>&1) \
  || { tail -50 "$scratch/build.log" >&2; echo "package.sh: dpkg-buildpackage failed" >&2; exit 1; }
deb=$(ls "$scratch"/eventsshop-receiver_*.deb | grep -v dbgsym | head -n 1)
cp "$deb" "$out/"
deb="$out/$(basename "$deb")"
lintian --fail-on error --suppress-tags-from-file /dev/null "$deb" >&2
echo "$deb"
