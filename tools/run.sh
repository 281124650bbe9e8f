#!/usr/bin/env bash
# The first command of the README: set up, build, and run passthru on configs/passthru.toml
# (or the config given as $1). Stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh build
exec build/passthru -c "${1:-configs/passthru.toml}"
