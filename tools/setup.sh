#!/usr/bin/env bash
# Installs what passthru needs to build and test on Debian 12, if it is missing: the compiler
# and libraries, and the real peers the tests drive (openssl, curl, haproxy, nginx, sshd).
# Runs `apt-get update` once before installing, since a fresh machine's lists are stale.
set -euo pipefail

packages=(
  # build
  cmake g++ make pkg-config libuv1-dev libtomlplusplus-dev libboost-dev libspdlog-dev libcli11-dev
  # tests, sanitizers and fuzzing
  doctest-dev python3 clang libclang-rt-14-dev
  # real peers the tests drive
  openssl curl haproxy nginx libnginx-mod-stream openssh-server openssh-client sslh
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup: every package is installed"
fi
