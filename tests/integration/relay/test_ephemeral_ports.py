"""Which local ports passthru's backend connections take. Linux gives connect() the even
ephemeral ports first and leaves the odd ones to programs that bind() port 0. passthru keeps to
that at ordinary rates, and only while a worker opens thousands of backend connections a second
has the kernel search every port, which is far cheaper once most even ports are in TIME_WAIT."""

import json
import random
import re
import socket
import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import BUILD, SOURCE, Passthru, TcpServer, first_free_port, seconds, wait_until  # noqa: E402

HELLO = SOURCE / "plugins/tls/tests/vectors/openssl-3.0-s_client.bin"  # SNI hello.example.test
# Connections a second through one worker: past the 4,000 at which passthru switches. The burst
# is kept short (1.6 s), so that most ports are still free afterwards for tests that bind port 0.
FAST = 6000


def config(backend_port):
    return f"""
log_level = "warn"
[servers."127.0.0.1:0"]
[servers."127.0.0.1:0".TLS]
"SNI hello.example.test" = {{ action = "FORWARD", to_addr = "127.0.0.1:{backend_port}" }}
"""


def time_wait_ports(backend_port):
    """Local ports of the connections to `backend_port` that are in TIME_WAIT."""
    out = subprocess.run(["ss", "-Htan", "state", "time-wait", f"( dport = :{backend_port} )"],
                         capture_output=True, text=True, check=True).stdout
    return [int(m.group(1)) for m in re.finditer(r"127\.0\.0\.1:(\d+)\s+127\.0\.0\.1:%d" % backend_port, out)]


def time_wait_table_full():
    limit = int(Path("/proc/sys/net/ipv4/tcp_max_tw_buckets").read_text())
    summary = subprocess.run(["ss", "-s"], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"timewait (\d+)", summary).group(1)) >= limit


def unused_port_below_ephemeral_range():
    """A port no connection went to in the last minute, so every TIME_WAIT entry towards it is ours."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    candidates = random.sample(range(max(1024, low - 8000), low), 200)
    return first_free_port(port for port in candidates if not time_wait_ports(port))


class EphemeralPorts(unittest.TestCase):
    def test_at_an_ordinary_rate_the_odd_ports_are_left_to_bind(self):
        def record_port(server, conn):
            server.received.append(conn.getpeername()[1])  # passthru's local port
            while conn.recv(4096):
                pass
        # 100 connections open at once, so that each needs a port of its own.
        with TcpServer(record_port, backlog=128) as backend, Passthru(config(backend.port), workers=1) as proxy:
            clients = [socket.create_connection(("127.0.0.1", proxy.port), timeout=seconds(10)) for _ in range(100)]
            for c in clients:
                c.sendall(HELLO.read_bytes())
            wait_until(lambda: len(backend.received) == 100, 10, "100 backend connections")
            for c in clients:
                c.close()
        odd = [p for p in backend.received if p % 2]
        self.assertEqual(odd, [], f"passthru took {len(odd)} odd ports of 100")

    def test_thousands_a_second_search_every_port(self):
        backend_port = unused_port_below_ephemeral_range()
        backend = subprocess.Popen([str(BUILD / "loadgen"), "backend", "--listen", f"127.0.0.1:{backend_port}",
                                    "--mode", "answer"], stdout=subprocess.PIPE, text=True)
        try:
            self.assertEqual(int(backend.stdout.readline().split()[1]), backend_port)
            with Passthru(config(backend_port), workers=1) as proxy:
                result = json.loads(subprocess.run(
                    [str(BUILD / "loadgen"), "rate", "--target", f"127.0.0.1:{proxy.port}", "--hello", str(HELLO),
                     "--concurrency", "2", "--seconds", "1.6"],
                    capture_output=True, text=True, timeout=seconds(60)).stdout)
        finally:
            backend.terminate()
            backend.wait()
        self.assertEqual(result["errors"], 0)
        if result["rate"] < FAST:
            self.skipTest(f"{result['rate']:.0f} connections/s here: too few to make passthru switch")
        ports = time_wait_ports(backend_port)
        if not ports and time_wait_table_full():
            self.skipTest("the kernel's TIME_WAIT table is full: it keeps no new entry to look at")
        odd = [p for p in ports if p % 2]
        # The kernel's own search took no odd port at all at this rate; walking every port for
        # the last 0.6 s took 15% of them odd.
        self.assertGreater(len(odd), len(ports) * 5 // 100, f"{len(odd)} odd of {len(ports)} ports")


if __name__ == "__main__":
    unittest.main()
