#!/usr/bin/env bash
# Installs what passthru needs to build and test on Debian 12, if it is missing: the compiler
# and libraries, the real peers the tests drive (openssl, curl, haproxy, nginx, sshd), the
# network tools of the transparent-mode test (ip, nft), and the npm packages the tests and the
# benchmark use (proxy-packer, the M-PROXY reference).
# Runs `apt-get update` once before installing, since a fresh machine's lists are stale.
set -euo pipefail

packages=(
  # build
  cmake g++ make pkg-config libuv1-dev libtomlplusplus-dev libboost-dev libspdlog-dev libcli11-dev libssl-dev
  nlohmann-json3-dev libcap-dev
  # tests, sanitizers and fuzzing (strace counts system calls per connection)
  doctest-dev python3 clang libclang-rt-14-dev strace
  # packaging and running as a service: cpack's .deb (dpkg-deb, dpkg-shlibdeps), its lint, the unit's check
  dpkg-dev lintian systemd
  # real peers the tests drive
  openssl curl haproxy nginx libnginx-mod-stream openssh-server openssh-client sslh
  # the metrics endpoint's tests: promtool check metrics, and a real Prometheus scraping it
  prometheus
  # transparent mode's test: network namespaces, veth pairs and TPROXY rules
  iproute2 nftables
)

# Node.js runs the M-PROXY reference (proxy-packer) in the tests and the benchmark's tunnel rows;
# the machine may have its own.
command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)

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

# The npm packages the tests use (the M-PROXY reference), pinned in their package.json; the
# benchmark's proxy-packer endpoint (tools/bench) takes the same one from there.
here="$(cd "$(dirname "$0")/.." && pwd)"
if [ ! -d "$here/tests/integration/mproxy/node_modules/proxy-packer" ]; then
  echo "setup: installing the npm packages the tests use"
  npm install --no-package-lock --no-audit --no-fund --prefix "$here/tests/integration/mproxy"
fi
