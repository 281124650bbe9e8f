#!/usr/bin/env bash
# The first command of the README: set up, build, and run passthru. Without arguments it shows
# routing working: demo backends behind configs/passthru.toml's addresses (tools/demo.sh) and the
# commands to try. With a config ($1), it runs passthru on that config alone. Stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh build
if [ $# -eq 0 ]; then
  exec tools/demo.sh build/passthru
fi
exec build/passthru -c "$1"
