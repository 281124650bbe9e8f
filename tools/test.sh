#!/usr/bin/env bash
# The second command of the README: set up, build, and run every test.
#  1. the whole suite (unit, config, integration with real peers) on a normal build;
#  2. the whole suite again on an AddressSanitizer + UBSan build, leaks included;
#  3. every libFuzzer target for FUZZ_SECONDS (default 30) under ASan + UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh

echo "== build and test"
tools/build.sh build
(cd build && ctest --output-on-failure -j2)

echo "== build and test under AddressSanitizer + UBSan"
tools/build.sh build-asan -DPASSTHRU_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  PASSTHRU_TEST_TIMEOUT_MULTIPLIER=4 ctest --output-on-failure -j2)

echo "== fuzz each parser for ${FUZZ_SECONDS:-30} s (libFuzzer, ASan + UBSan)"
CXX=clang++ tools/build.sh build-fuzz -DPASSTHRU_FUZZ=ON -DPASSTHRU_TESTS=OFF
for target in build-fuzz/*_fuzz; do
  name=$(basename "$target" _fuzz)
  corpus="plugins/$name/fuzz/corpus"
  [ -d "$corpus" ] || corpus="core/fuzz/$name/corpus"  # a parser of the core's own (json_config, tunnel_auth, destinations)
  scratch=$(mktemp -d)  # new corpus entries stay out of the source tree
  "$target" -max_total_time="${FUZZ_SECONDS:-30}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    "$scratch" "$corpus" 2>&1 | tail -n 12
  rm -rf "$scratch"
done
echo "every test passed"
