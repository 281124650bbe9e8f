#!/usr/bin/env bash
# Builds passthru into ./build (or the folder given as $1, with any further cmake options).
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-build}"
shift || true
cmake -S . -B "$dir" "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)"
