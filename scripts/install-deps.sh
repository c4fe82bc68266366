#!/usr/bin/env bash
# The one place that installs the Debian packages this project needs to build, test and run.
# Safe to run again: apt-get skips what is already installed. Needs root (or sudo).
set -euo pipefail

packages=(
  build-essential cmake pkg-config git ca-certificates curl
  libboost1.81-dev libboost-json1.81-dev libboost-program-options1.81-dev
  libboost-test1.81-dev libboost-system1.81-dev
  libpqxx-dev libpq-dev libssl-dev openssl
  nginx
  prometheus
  time jq
  postgresql-15 postgresql-client-15
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
