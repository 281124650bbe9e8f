#!/usr/bin/env python3
"""passthru against HAProxy, nginx (stream + ssl_preread) and sslh-select, in one run, on loopback.

    tools/bench/run_bench.py [--rounds 3] [--seconds 5] [--quick] [--cpu-only] [--only ROW,ROW] [--tunnel-only]
                             [--out tools/bench/results.md]

Builds passthru and the load generator (tools/bench/loadgen.cpp), starts the backends and each
proxy, then measures, interleaved (A B A B …, each round starting one proxy further along; the
same load generator for all):
  - connection rate: N clients each connect, send a real ClientHello for a routed name (a
    324-byte one from OpenSSL and Chromium's 1958-byte post-quantum one), read the backend's
    64-byte answer, close; connections/s, latency p50/p99, and proxy CPU per connection;
  - throughput: one connection and 8 in parallel pushing bytes up, and pulling them down;
  - tunnels: one M-PROXY tunnel into passthru (DEMUX) and into a tunnel endpoint written with
    proxy-packer on Node (tools/bench/proxy_packer_endpoint.js), against passthru's plain relays
    in the same rounds: throughput with 1 or 8 streams up and down (1 or 8 connections for the
    relays), and new streams per second with as many in flight as the rate's clients (each opens,
    sends the hello, gets the backend's answer, ends; new connections per second for the relays);
    `--tunnel-only` measures just these and replaces only this section of --out;
  - memory: RSS per idle forwarded connection (9,000 held: this machine allows 20,000 files);
  - rules: passthru's rate with 1 SNI rule and with 100,000 (exact and wildcard);
  - timeouts: passthru's CPU per connection with its default timeouts (1 h idle) and with every
    relay timeout off;
  - observability: passthru at log_level "info" (a line per connection, to a file) against
    "warn", and with its metrics endpoint on and scraped every second against none.
The connection rate is also measured through floor_proxy (with 2 threads, and with 1), which
parses nothing and makes the fewest system calls we know of: what any proxy on this machine pays
per connection at least.
Reports medians with min-max, and ratios to HAProxy, as a Markdown table. Every load loop is
bounded in time; all traffic stays on 127.0.0.1. The rate runs leave every ephemeral port of
127.0.0.1 in TIME_WAIT for a minute afterwards: a program binding port 0 meanwhile (the test
suite does) may be refused, so the benchmark itself listens on ports below the ephemeral range."""

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build"
LOADGEN = BUILD / "loadgen"
VECTORS = ROOT / "plugins/tls/tests/vectors"
HELLOS = {"small": VECTORS / "openssl-3.0-s_client.bin", "large": VECTORS / "chromium-156.bin"}
NAME = "hello.example.test"  # the SNI both hellos carry
TICKS = os.sysconf("SC_CLK_TCK")


LOGS = Path(tempfile.mkdtemp(prefix="passthru-bench-logs-"))


BASES = {"passthru", "floor", "haproxy"}  # the rows every ratio is taken against
STARTED = []  # every program started, all stopped at the end, even when setting up failed half way


def start(argv, **kw):
    """Starts a program; its stderr goes to a log file, shown if it fails to listen."""
    log = open(LOGS / (Path(str(argv[0])).name + ".log"), "a")
    p = subprocess.Popen([str(a) for a in argv], stdout=subprocess.PIPE, stderr=log, text=True, **kw)
    STARTED.append(p)
    return p


def stop_all():
    for p in STARTED:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in STARTED:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()


def tree(pid):
    """pid and its descendants (nginx runs workers under a master)."""
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                children.setdefault(int(fields[1]), []).append(int(entry.name))
            except (OSError, IndexError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(pid):
    total = 0
    for p in tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            pass
    return total / TICKS


def rss_kib(pid):
    total = 0
    for p in tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def free_port():
    """A free port below the ephemeral range. Port 0 is no use here: after a rate run every
    ephemeral port of 127.0.0.1 may be in TIME_WAIT for a minute, and bind() refuses them."""
    import random
    import socket
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    while True:
        port = random.randrange(10000, low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue


def wait_listening(port, timeout=10):
    import socket
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    logs = "".join(f"--- {f.name}\n{f.read_text()[-2000:]}" for f in LOGS.iterdir())
    raise RuntimeError(f"nothing listens on {port}\n{logs}")


def loadgen(*args):
    out = subprocess.run([str(LOADGEN), *map(str, args)], capture_output=True, text=True, timeout=600).stdout
    import json
    return json.loads(out.strip().splitlines()[-1])


class Proxy:
    """A proxy under test with three listeners: rate (-> answer backend), push (-> sink), pull (-> source)."""

    def __init__(self, name, process, ports):
        self.name, self.process, self.ports = name, process, ports


def started_passthru(tmp, label, lines, ports):
    """passthru running the config `lines`, once every one of its `ports` listens."""
    config = Path(tmp) / f"{label}.toml"
    config.write_text("\n".join(lines) + "\n")
    p = start([BUILD / "passthru", "-c", config])
    for port in ports.values():
        wait_listening(port, 60)
    return Proxy(label, p, ports)


def passthru(tmp, backends, workers=2, extra_rules=0, label="passthru", listener_options=(), log_level="warn",
             metrics_port=None):
    ports = {k: free_port() for k in backends}
    lines = [f'log_level = "{log_level}"', f"workers = {workers}"]
    if metrics_port:
        lines += ["[metrics]", f'listen = "127.0.0.1:{metrics_port}"']
    for kind, port in ports.items():
        lines += [f'[servers."127.0.0.1:{port}"]', *listener_options, f'[servers."127.0.0.1:{port}".TLS]',
                  f'"SNI {NAME}" = {{ action = "FORWARD", to_addr = "127.0.0.1:{backends[kind]}" }}']
        if kind == "rate":
            for i in range(extra_rules // 2):
                lines.append(f'"SNI host{i}.example.com" = {{ action = "REJECT" }}')
                lines.append(f'"SNI *.zone{i}.example.net" = {{ action = "REJECT" }}')
    return started_passthru(tmp, label, lines, ports)


def passthru_tunnel(tmp, backends, label="passthru-tunnel"):
    """passthru as the endpoint of one M-PROXY tunnel (DEMUX) whose streams go to the rate, push and
    pull backends: the load generator carries all its streams in one tunnel connection."""
    ports = {k: free_port() for k in backends}
    lines = ['log_level = "warn"', "workers = 2"]
    for kind, port in ports.items():
        lines += [f'[servers."127.0.0.1:{port}".MPROXY]',
                  f'"NAME bench.example" = {{ action = "FORWARD", to_addr = "127.0.0.1:{backends[kind]}" }}',
                  'CATCHALL = { action = "DEMUX" }']
    return started_passthru(tmp, label, lines, ports)


NODE_MODULES = ROOT / "tests/integration/mproxy/node_modules"  # proxy-packer, pinned there for the tests too


def proxy_packer_node(tmp, backends, label="proxy-packer-node"):
    """A tunnel endpoint written with proxy-packer on Node (tools/bench/proxy_packer_endpoint.js),
    one process, a listener per backend."""
    if not (NODE_MODULES / "proxy-packer").is_dir():
        raise RuntimeError(f"{NODE_MODULES / 'proxy-packer'} is missing: run tools/setup.sh")
    ports = {k: free_port() for k in backends}
    p = start(["node", ROOT / "tools/bench/proxy_packer_endpoint.js", *(f"{ports[k]}={backends[k]}" for k in ports)],
              env={**os.environ, "NODE_PATH": str(NODE_MODULES)})
    for port in ports.values():
        wait_listening(port)
    return Proxy(label, p, ports)


def haproxy(tmp, backends):
    ports = {k: free_port() for k in backends}
    text = "global\n  maxconn 9500\n  nbthread 2\ndefaults\n  mode tcp\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n"
    for kind, port in ports.items():
        text += (f"frontend f_{kind}\n  bind 127.0.0.1:{port}\n  tcp-request inspect-delay 5s\n"
                 "  tcp-request content accept if { req.ssl_hello_type 1 }\n"
                 f"  use_backend b_{kind} if {{ req.ssl_sni -i {NAME} }}\n"
                 f"backend b_{kind}\n  server s 127.0.0.1:{backends[kind]}\n")
    config = Path(tmp) / "haproxy.cfg"
    config.write_text(text)
    p = start(["haproxy", "-db", "-f", config])
    for port in ports.values():
        wait_listening(port)
    return Proxy("haproxy", p, ports)


def nginx(tmp, backends):
    ports = {k: free_port() for k in backends}
    servers = "".join(f"  server {{ listen 127.0.0.1:{port}; ssl_preread on; proxy_pass $up_{kind}; }}\n"
                      f"  map $ssl_preread_server_name $up_{kind} {{ {NAME} 127.0.0.1:{backends[kind]}; default 127.0.0.1:1; }}\n"
                      for kind, port in ports.items())
    user = "user root;\n" if os.geteuid() == 0 else ""
    text = (f"load_module /usr/lib/nginx/modules/ngx_stream_module.so;\n{user}worker_processes 2;\n"
            f"worker_rlimit_nofile 20000;\ndaemon off;\npid {tmp}/nginx.pid;\nerror_log {tmp}/nginx.log crit;\n"
            f"events {{ worker_connections 19000; }}\nstream {{\n{servers}}}\n")
    config = Path(tmp) / "nginx.conf"
    config.write_text(text)
    p = start(["nginx", "-c", config, "-p", tmp])
    for port in ports.values():
        wait_listening(port)
    return Proxy("nginx", p, ports)


def sslh(tmp, backends):
    # sslh-select has one TLS target: give it one process per backend, rate only for the others.
    ports = {k: free_port() for k in backends}
    processes = [start(["sslh-select", "-f", "-n", "-p", f"127.0.0.1:{ports[k]}", "--tls", f"127.0.0.1:{backends[k]}"])
                 for k in ports]
    for port in ports.values():
        wait_listening(port)
    return Proxy("sslh-select", processes[0], ports)


def floor_proxy(tmp, backends, threads=2, label="floor"):
    """The least a forwarding proxy can do per connection (tools/bench/floor_proxy.cpp): rate only."""
    port = free_port()
    p = start([BUILD / "floor_proxy", "--listen", f"127.0.0.1:{port}", "--to", f"127.0.0.1:{backends['rate']}",
               "--threads", threads])
    wait_listening(port)
    return Proxy(label, p, {"rate": port})


def rotated(items, round_number):
    """Each round starts one further along: a proxy is not always measured right after the same
    one, whose leftovers (TIME_WAIT entries, a full TIME_WAIT table) would bias its figures."""
    if not items:
        return items
    k = round_number % len(items)
    return items[k:] + items[:k]


def median_range(values, fmt):
    if not values:
        return "n/a"
    return f"{fmt(statistics.median(values))} ({fmt(min(values))}–{fmt(max(values))})"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="1 round of 1 s, no memory test: a smoke test")
    parser.add_argument("--memory-only", action="store_true", help="measure only memory per idle connection")
    parser.add_argument("--cpu-only", action="store_true",
                        help="measure only the connection rate and CPU per connection (no throughput, rules, memory)")
    parser.add_argument("--only", default="",
                        help="comma-separated rows to measure (with passthru, floor and haproxy, the bases of the "
                             "ratios), connection rate and CPU only: e.g. --only passthru-info,nginx")
    parser.add_argument("--tunnel-only", action="store_true",
                        help="measure only the tunnels against passthru's plain relays and the proxy-packer endpoint, "
                             "and replace only that section of --out")
    parser.add_argument("--out", default=str(ROOT / "tools/bench/results.md"))
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.seconds = 1, 1
    subprocess.run([str(ROOT / "tools/build.sh"), "build", "-DCMAKE_BUILD_TYPE=RelWithDebInfo"], check=True,
                   stdout=subprocess.DEVNULL)

    tmp = tempfile.mkdtemp(prefix="passthru-bench-")
    shared = {}

    def backend(mode):
        p = start([LOADGEN, "backend", "--listen", f"127.0.0.1:{free_port()}", "--mode", mode])
        return int(p.stdout.readline().split()[1])

    metrics_port = free_port()
    scraping = threading.Event()  # set: the scraper stops
    try:
        for kind, mode in (("push", "sink"), ("pull", "source")):
            shared[kind] = backend(mode)

        def backends():
            # Each proxy has an answering backend of its own: every connection a proxy ends leaves a
            # TIME_WAIT entry for its backend's address, and one proxy's must not slow the next
            # one's search for a free port.
            return {"rate": backend("answer"), **shared}

        def scrape():  # as a Prometheus server would, every second, for the whole run
            while not scraping.wait(1):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read()
                except OSError:
                    pass
        threading.Thread(target=scrape, daemon=True).start()
        rows = {  # each row's proxy, started only if the run measures it
            "direct": lambda: Proxy("direct", None, backends()),
            "floor": lambda: floor_proxy(tmp, backends()),
            "floor-1-thread": lambda: floor_proxy(tmp, backends(), 1, "floor-1-thread"),
            "passthru": lambda: passthru(tmp, backends()),
            "passthru-1-worker": lambda: passthru(tmp, backends(), workers=1, label="passthru-1-worker"),
            "passthru-no-timeouts": lambda: passthru(tmp, backends(), label="passthru-no-timeouts",
                                                     listener_options=("idle_timeout_ms = 0", "half_closed_timeout_ms = 0")),
            "passthru-info": lambda: passthru(tmp, backends(), label="passthru-info", log_level="info"),
            "passthru-metrics": lambda: passthru(tmp, backends(), label="passthru-metrics", metrics_port=metrics_port),
            "haproxy": lambda: haproxy(tmp, backends()),
            "nginx": lambda: nginx(tmp, backends()),
            "sslh-select": lambda: sslh(tmp, backends()),
        }
        wanted = set(args.only.split(",")) | BASES if args.only else set(rows)
        unknown = wanted - set(rows)
        if unknown:
            parser.error(f"--only: no row named {', '.join(sorted(unknown))}; rows: {', '.join(rows)}")
        proxies = [] if args.tunnel_only else [make() for name, make in rows.items() if name in wanted]
        args.cpu_only = args.cpu_only or bool(args.only)
        streamed = [] if args.cpu_only else [p for p in proxies if "push" in p.ports]
        # The tunnel section: passthru's plain relays (those above in a full run), its DEMUX, proxy-packer's.
        tunnels = [] if args.cpu_only or args.memory_only else [
            next((p for p in proxies if p.name == "passthru"), None) or passthru(tmp, backends()),
            passthru_tunnel(tmp, backends()), proxy_packer_node(tmp, backends())]
        rules = [] if args.cpu_only or args.tunnel_only else [passthru(tmp, backends(), label="passthru-1-rule"),
                                          passthru(tmp, backends(), extra_rules=100_000, label="passthru-100k-rules")]
        rate = {(p.name, h): [] for p in proxies + rules for h in HELLOS}
        stream = {(p.name, d, n): [] for p in streamed for d in ("push", "pull") for n in (1, 8)}
        tunnel_rate = {p.name: [] for p in tunnels}
        tunnel_stream = {(p.name, d, n): [] for p in tunnels for d in ("push", "pull") for n in (1, 8)}
        for r in range(0 if args.memory_only else args.rounds):
            print(f"round {r + 1}/{args.rounds}", file=sys.stderr)
            for hello_name, hello in HELLOS.items():
                for p in rotated(proxies + (rules if hello_name == "small" else []), r):
                    before = cpu_seconds(p.process.pid) if p.process else 0
                    result = loadgen("rate", "--target", f"127.0.0.1:{p.ports['rate']}", "--hello", hello,
                                     "--concurrency", args.concurrency, "--seconds", args.seconds,
                                     "--every-port", "yes")
                    result["cpu_us"] = ((cpu_seconds(p.process.pid) - before) * 1e6 / max(1, result["connections"])
                                        if p.process else 0)
                    rate[(p.name, hello_name)].append(result)
            for p in rotated(streamed, r):
                for direction in ("push", "pull"):
                    for n in (1, 8):
                        result = loadgen(direction, "--target", f"127.0.0.1:{p.ports[direction]}",
                                         "--hello", HELLOS["small"], "--connections", n, "--seconds", args.seconds)
                        stream[(p.name, direction, n)].append(result["gbit_per_s"])
            for p in rotated(tunnels, r):
                tunneled = p.name != "passthru"  # the others carry their streams in one tunnel connection
                before = cpu_seconds(p.process.pid)
                result = loadgen("tunnel-rate" if tunneled else "rate", "--target", f"127.0.0.1:{p.ports['rate']}",
                                 "--hello", HELLOS["small"], "--concurrency", args.concurrency,
                                 "--seconds", args.seconds, *(() if tunneled else ("--every-port", "yes")))
                result["cpu_us"] = (cpu_seconds(p.process.pid) - before) * 1e6 / max(1, result["connections"])
                tunnel_rate[p.name].append(result)
                for direction in ("push", "pull"):
                    for n in (1, 8):
                        mode, count = (f"tunnel-{direction}", "--streams") if tunneled else (direction, "--connections")
                        result = loadgen(mode, "--target", f"127.0.0.1:{p.ports[direction]}", "--hello",
                                         HELLOS["small"], count, n, "--seconds", args.seconds)
                        tunnel_stream[(p.name, direction, n)].append(result["gbit_per_s"])
        memory = {}
        if not args.quick and not args.cpu_only:
            # sslh-select's select() cannot hold 9,000 descriptors; the floor keeps no accounts.
            for p in (p for p in proxies if p.name in ("passthru", "passthru-1-worker", "haproxy", "nginx")):
                idle_before = rss_kib(p.process.pid)
                held = start([LOADGEN, "idle", "--target", f"127.0.0.1:{p.ports['rate']}", "--hello", HELLOS["small"],
                              "--connections", 9000, "--hold", 6])
                ready = held.stdout.readline()
                count = int(ready.split()[1]) if ready.startswith("ready") else 0
                time.sleep(1)
                memory[p.name] = (rss_kib(p.process.pid) - idle_before) * 1024 / max(1, count)
                held.wait(timeout=60)
                time.sleep(1)
    finally:
        scraping.set()
        stop_all()

    def med(key, field):
        return statistics.median(x[field] for x in rate[key]) if rate[key] else 0

    lines = [f"Measured {time.strftime('%Y-%m-%d')} on this machine: {os.cpu_count()} cores, load generator, proxy and "
             f"backend sharing them; {args.rounds} interleaved rounds of {args.seconds:g} s, {args.concurrency} "
             "concurrent clients; median (min–max).", ""]
    for hello_name in [] if args.memory_only or args.tunnel_only else HELLOS:
        lines += [f"**Connection rate, {hello_name} ClientHello ({HELLOS[hello_name].stat().st_size} bytes)**", "",
                  "| proxy | connections/s | vs HAProxy | p50 µs | p99 µs | proxy CPU µs/conn | CPU vs floor | errors |",
                  "|---|---|---|---|---|---|---|---|"]
        base = med(("haproxy", hello_name), "rate") or 1
        floor_cpu = med(("floor", hello_name), "cpu_us")
        for p in proxies + (rules if hello_name == "small" else []):
            key = (p.name, hello_name)
            vs_floor = f"{med(key, 'cpu_us') / floor_cpu:.2f}×" if p.process and floor_cpu else "–"
            lines.append(f"| {p.name} | {median_range([x['rate'] for x in rate[key]], lambda v: f'{v:,.0f}')} | "
                         f"{med(key, 'rate') / base:.2f}× | {med(key, 'p50_us'):,.0f} | {med(key, 'p99_us'):,.0f} | "
                         f"{med(key, 'cpu_us'):.0f} | {vs_floor} | {sum(x['errors'] for x in rate[key])} |")
        lines.append("")
    if not args.memory_only and not args.tunnel_only:
        def cpu_ratio(label, base):
            """The row's CPU per connection over the base's, taken round by round (the two measured
            minutes apart at most, under the same load from elsewhere): median (min–max)."""
            def paired(h):
                pairs = zip(rate.get((label, h), []), rate.get((base, h), []))
                return [a["cpu_us"] / b["cpu_us"] for a, b in pairs if b["cpu_us"]]
            return ", ".join(f"{median_range(paired(h), lambda v: f'{v:.3f}×')} ({h} hello)" for h in HELLOS)
        measured = {p.name for p in proxies}
        lines += ["CPU per connection, round by round as a ratio to passthru as configured above (warn, default "
                  "timeouts, no metrics endpoint), median (min–max):"]
        lines += [f"- {text}: {cpu_ratio(label, 'passthru')}" for label, text in (
            ("passthru-no-timeouts", "every relay timeout off"), ("passthru-info", "log_level info, a line per connection"),
            ("passthru-metrics", "metrics endpoint on and scraped every second"), ("floor", "the floor proxy"),
            ("nginx", "nginx"), ("haproxy", "HAProxy")) if label in measured]
        lines.append("")
    lines += [] if args.memory_only or args.cpu_only or args.tunnel_only else ["**Throughput, Gbit/s**", "",
                                          "| proxy | 1 conn up | 1 conn down | 8 conns up | 8 conns down |", "|---|---|---|---|---|"]
    for p in [] if args.memory_only or args.cpu_only else streamed:
        cells = [median_range(stream[(p.name, d, n)], lambda v: f"{v:.2f}") for n in (1, 8) for d in ("push", "pull")]
        lines.append(f"| {p.name} | {cells[0]} | {cells[1]} | {cells[2]} | {cells[3]} |")
    lines.append("")
    section = tunnel_section(args, tunnels, tunnel_rate, tunnel_stream) if tunnels else []
    lines += section
    if memory:
        lines += ["**Memory per idle forwarded connection (9,000 held)**", "", "| proxy | bytes/conn | vs HAProxy |",
                  "|---|---|---|"]
        for name, per in memory.items():
            lines.append(f"| {name} | {per:,.0f} | {per / memory['haproxy']:.2f}× |")
        lines.append("")
    table = "\n".join(lines)
    print(table)
    if args.tunnel_only:
        table = with_section(Path(args.out).read_text() if Path(args.out).exists() else "", "\n".join(section))
    Path(args.out).write_text(table.rstrip("\n") + "\n")


TUNNEL_HEADING = "**Tunnels: one M-PROXY tunnel against plain relays and a proxy-packer endpoint**"


def tunnel_section(args, tunnels, rate, stream):
    """The tunnel rows and their ratios, as Markdown lines ending with a blank one."""
    def med(name, field):
        return statistics.median(x[field] for x in rate[name])

    def gbit(name, d, n):
        return statistics.median(stream[(name, d, n)])

    lines = [TUNNEL_HEADING, "",
             f"Measured {time.strftime('%Y-%m-%d')}: {args.rounds} interleaved rounds of {args.seconds:g} s; "
             f"{args.concurrency} streams (or connections) in flight for the rate; median (min–max). "
             "passthru's plain relays carry N connections where the tunnels carry N streams in one connection; "
             "proxy-packer-node is tools/bench/proxy_packer_endpoint.js, one Node process.", "",
             "| endpoint | new streams/s | p50 µs | p99 µs | CPU µs/stream | errors | 1 up Gbit/s | 1 down | 8 up | 8 down |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for p in tunnels:
        cells = [median_range(stream[(p.name, d, n)], lambda v: f"{v:.2f}") for n in (1, 8) for d in ("push", "pull")]
        label = "passthru (plain relays: connections/s)" if p.name == "passthru" else p.name
        lines.append(f"| {label} | {median_range([x['rate'] for x in rate[p.name]], lambda v: f'{v:,.0f}')} | "
                     f"{med(p.name, 'p50_us'):,.0f} | {med(p.name, 'p99_us'):,.0f} | {med(p.name, 'cpu_us'):.0f} | "
                     f"{sum(x['errors'] for x in rate[p.name])} | {' | '.join(cells)} |")

    def ratios(name, base):
        shape = [(8, "push", "8 streams up"), (8, "pull", "8 down"), (1, "push", "1 up"), (1, "pull", "1 down")]
        return (", ".join(f"{gbit(name, d, n) / gbit(base, d, n):.2f}× {what}" for n, d, what in shape) +
                f"; new streams/s {med(name, 'rate') / med(base, 'rate'):.2f}×")
    lines += ["", f"passthru-tunnel against passthru's plain relays (goal: at least 0.7× the throughput): "
              f"{ratios('passthru-tunnel', 'passthru')} (against new connections/s).",
              "", f"passthru-tunnel against proxy-packer-node (goal: at least 5×): "
              f"{ratios('passthru-tunnel', 'proxy-packer-node')}.", ""]
    return lines


def with_section(text, section):
    """`text` with its tunnel section (from its heading to the next bold heading) replaced by
    `section`, or with `section` added at its end."""
    lines = text.splitlines()
    if TUNNEL_HEADING not in lines:
        return text.rstrip("\n") + ("\n\n" if text else "") + section
    at = lines.index(TUNNEL_HEADING)
    end = next((i for i in range(at + 1, len(lines)) if lines[i].startswith("**")), len(lines))
    return "\n".join(lines[:at] + section.rstrip("\n").split("\n") + [""] + lines[end:])


if __name__ == "__main__":
    main()
