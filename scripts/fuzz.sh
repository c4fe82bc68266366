#!/usr/bin/env bash
# Builds the libFuzzer harnesses with clang (ASan+UBSan) and runs each for SECONDS (default 30),
# seeded with tests/fixtures and the tests' dictionaries. A crash leaves its input in
# build-fuzz/findings/ and fails the script: turn it into a regression test.
#   scripts/fuzz.sh [SECONDS]        for a real campaign, use 3600 or more
#   ESR_FUZZ_RUNS=N ESR_FUZZ_SEED=S  a fixed number of runs from a fixed seed: repeatable (CI)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}

scripts/install-deps.sh
if ! command -v clang++-14 >/dev/null || [ ! -e /usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends clang-14 libclang-rt-14-dev >/dev/null
fi

CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DESR_FUZZ=ON \
  -DESR_BUILD_TESTS=OFF -DESR_BUILD_BENCH=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz_payload fuzz_request >/dev/null

rm -rf build-fuzz/corpus  # from the seeds each time, so a run is repeatable
mkdir -p build-fuzz/findings build-fuzz/corpus/payload build-fuzz/corpus/request
cp tests/fixtures/*.json build-fuzz/corpus/payload/ 2>/dev/null || true
for f in build-fuzz/corpus/payload/*.json; do
  [ -e "$f" ] || continue
  printf 'POST /eventsshop/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer token-1\r\nContent-Length: %s\r\n\r\n' \
    "$(stat -c %s "$f")" | cat - "$f" > "build-fuzz/corpus/request/$(basename "$f").http"
done

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
status=0
for target in payload request; do
  dict=tests/fuzz/json.dict; [ "$target" = request ] && dict=tests/fuzz/http.dict
  if [ -n "${ESR_FUZZ_RUNS:-}" ]; then echo "fuzz_$target: $ESR_FUZZ_RUNS runs from seed ${ESR_FUZZ_SEED:-1}"
  else echo "fuzz_$target: ${seconds}s"; fi
  limit=(-max_total_time="$seconds")
  [ -n "${ESR_FUZZ_RUNS:-}" ] && limit=(-runs="$ESR_FUZZ_RUNS" -seed="${ESR_FUZZ_SEED:-1}")
  build-fuzz/fuzz_$target "${limit[@]}" -dict="$dict" -max_len=65536 -rss_limit_mb=2048 \
    -artifact_prefix=build-fuzz/findings/"$target"- build-fuzz/corpus/$target 2>build-fuzz/fuzz_$target.log \
    || { status=1; tail -n 40 build-fuzz/fuzz_$target.log; }
  grep -E "^#[0-9]+.*DONE|Done [0-9]+ runs" build-fuzz/fuzz_$target.log | tail -n 1 || true
done
exit $status
