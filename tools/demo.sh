#!/usr/bin/env bash
# Shows routing working on a fresh machine: starts local demo backends behind the addresses of
# configs/passthru.toml (openssl s_server instances with their own names on 9443, 9444 and 9445,
# a plain HTTP server on 8080), runs passthru on that config (127.0.0.1:8443), and prints the
# commands to try. Ctrl-C stops passthru and the backends. Usage: tools/demo.sh [PASSTHRU_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
binary="${1:-build/passthru}"
config=configs/passthru.toml
scratch="$(mktemp -d /tmp/passthru-demo.XXXXXX)"
pids=()
stop() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$scratch"
}
trap stop EXIT
trap 'stop; exit 0' INT TERM

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A TLS backend answering with its own certificate (CN = name), as an HTTPS server (-www).
tls_backend() {
  local name="$1" port="$2"
  if port_busy "$port"; then echo "demo: 127.0.0.1:$port is taken; no demo backend for $name there"; return; fi
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$scratch/$name.key" -out "$scratch/$name.pem" -days 2 \
    -subj "/CN=$name" -addext "subjectAltName=DNS:$name" >/dev/null 2>&1
  openssl s_server -quiet -accept "127.0.0.1:$port" -cert "$scratch/$name.pem" -key "$scratch/$name.key" -www \
    >/dev/null 2>&1 &
  pids+=($!)
}
tls_backend www.example.com 9443          # "SNI www.example.com"
tls_backend shop.api.example.com 9444     # "SNI *.api.example.com" (to_addr localhost:9444)
tls_backend h2.backend 9445               # "ALPN h2"
if port_busy 8080; then
  echo "demo: 127.0.0.1:8080 is taken; no demo HTTP backend there"
else
  echo "plain HTTP backend on 127.0.0.1:8080, reached through the server CATCHALL" > "$scratch/index.html"
  python3 -m http.server 8080 --bind 127.0.0.1 --directory "$scratch" >/dev/null 2>&1 &
  pids+=($!)
fi

"$binary" -c "$config" > "$scratch/stdout" &
pids+=($!)
passthru_pid=$!
for _ in $(seq 100); do  # up to 10 s for "listening on"
  grep -q "listening on" "$scratch/stdout" 2>/dev/null && break
  kill -0 "$passthru_pid" 2>/dev/null || { echo "demo: passthru did not start"; exit 1; }
  sleep 0.1
done
cat "$scratch/stdout"
cat <<'TRY'

passthru routes 127.0.0.1:8443 by configs/passthru.toml to the demo backends. Try:

  # TLS by SNI: each answer names the backend's certificate
  openssl s_client -connect 127.0.0.1:8443 -servername www.example.com </dev/null 2>/dev/null | grep subject=
  openssl s_client -connect 127.0.0.1:8443 -servername shop.api.example.com </dev/null 2>/dev/null | grep subject=
  openssl s_client -connect 127.0.0.1:8443 -alpn h2 </dev/null 2>/dev/null | grep subject=
  curl -sk --resolve www.example.com:8443:127.0.0.1 https://www.example.com:8443/ | head -3
  # Not TLS: the server CATCHALL sends it to the HTTP backend on 8080
  curl -s http://127.0.0.1:8443/
  # A name no rule knows: rejected (the TLS CATCHALL)
  openssl s_client -connect 127.0.0.1:8443 -servername other.example.org </dev/null

passthru's log (one line per connection) follows. Ctrl-C stops passthru and the backends.
TRY
wait "$passthru_pid"
