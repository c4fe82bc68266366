#!/usr/bin/env bash
# Every test a document names (`suite/case`, or `suite/*`) must exist in the built test binaries,
# so the docs cannot point at a test that was renamed or removed.
# Usage: scripts/check-doc-test-names.sh UNIT_BINARY INTEGRATION_BINARY DOC...
set -euo pipefail
unit=$1 integration=$2; shift 2
known=$(for binary in "$unit" "$integration"; do "$binary" --list_content 2>&1; done |
  awk '/^[^ ]/ {suite = $1; sub(/\*$/, "", suite)} /^    [^ ]/ {name = $1; sub(/\*$/, "", name); print suite "/" name}')
missing=0
# A test path has an underscore in its case name, or is suite/*; file paths (tests/unit) have neither.
for name in $(grep -ohE '`[a-z_0-9]+/([a-z0-9]*_[a-z_0-9]*|\*)`' "$@" | tr -d '`' | sort -u); do
  if [[ $name == */\* ]]; then grep -q "^${name%\*}" <<<"$known" && continue
  else grep -qx "$name" <<<"$known" && continue; fi
  echo "a document names $name, which is not a test"; missing=1
done
exit $missing
