"""Several backends per rule: a to_addr list with balance round_robin, least_conn and
source_hash, and passive health. Real TCP backends that answer with their own name, and one
port where nothing listens (a dead backend): no client sees an error while another backend
answers, the dead one is tried once and then skipped for down_ms, the log's target= names the
backend each connection used, and /metrics counts per backend."""

import re
import sys
import time
import unittest
import urllib.request
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import Passthru, TcpServer, connect, connect_from, free_port, name_handler, read_line, seconds, wait_until  # noqa: E402


def config(backends, balance, down_ms=60000, metrics=False):
    listed = ", ".join(f'"127.0.0.1:{p}"' for p in backends)
    return f"""
{'[metrics]' if metrics else ''}
{'listen = "127.0.0.1:0"' if metrics else ''}
[servers."127.0.0.1:0"]
timeout_ms = 300
connect_timeout_ms = 2000
[servers."127.0.0.1:0".TLS]
CATCHALL = {{ action = "REJECT" }}
[servers."127.0.0.1:0".CATCHALL]
CATCHALL = {{ action = "FORWARD", to_addr = [{listed}], balance = "{balance}", down_ms = {down_ms} }}
"""


def ask(sock):
    """Sends a byte that cannot start TLS (so the CATCHALL decides at once) and reads the name."""
    sock.sendall(b"X")
    return read_line(sock)


def metric(port, name, **labels):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=seconds(10)) as r:
        text = r.read().decode()
    total = 0
    for line in text.splitlines():
        m = re.match(rf"{name}\{{(.*)\}} (\S+)$", line)
        if m and all(f'{k}="{v}"' in m.group(1) for k, v in labels.items()):
            total += float(m.group(2))
    return total


class SeveralBackends(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.a = TcpServer(name_handler("a"))
        cls.b = TcpServer(name_handler("b"))
        cls.dead = free_port()  # nothing listens there: every connect is refused

    @classmethod
    def tearDownClass(cls):
        cls.a.close()
        cls.b.close()

    def test_round_robin_spreads_and_a_dead_backend_costs_no_client_an_error(self):
        with Passthru(config([self.a.port, self.dead, self.b.port], "round_robin", metrics=True)) as proxy:
            answers = []
            for _ in range(12):
                with connect(proxy.port) as s:
                    answers.append(ask(s))
            counts = Counter(answers)
            self.assertEqual(set(counts), {"a", "b"}, answers)  # every client got an answer
            self.assertGreaterEqual(min(counts.values()), 5, counts)  # and they alternate
            proxy.wait_log(r"(?s)(target=.*){12}", 5)
            targets = Counter(re.findall(r"target=(\S+)", proxy.log()))
            self.assertEqual(sum(targets.values()), 12, proxy.log())
            self.assertEqual(targets[f"127.0.0.1:{self.dead}"], 0, "the dead backend is never logged as used")
            m = proxy.metrics_port
            dead, a, b = (f"127.0.0.1:{p}" for p in (self.dead, self.a.port, self.b.port))
            # Tried once, then down for 60 s: skipped by the 11 connections after.
            self.assertEqual(metric(m, "passthru_backend_connect_failures_total", backend=dead), 1)
            self.assertEqual(metric(m, "passthru_backend_connections_total", backend=dead), 0)
            self.assertEqual(metric(m, "passthru_backend_connections_total", backend=a), counts["a"])
            self.assertEqual(metric(m, "passthru_backend_connections_total", backend=b), counts["b"])

    def test_a_backend_down_comes_back_after_down_ms(self):
        with Passthru(config([self.dead, self.a.port], "round_robin", down_ms=200, metrics=True)) as proxy:
            for _ in range(4):
                with connect(proxy.port) as s:
                    self.assertEqual(ask(s), "a")
            failures = metric(proxy.metrics_port, "passthru_backend_connect_failures_total")
            self.assertEqual(failures, 1)
            time.sleep(seconds(0.4))
            for _ in range(2):
                with connect(proxy.port) as s:
                    self.assertEqual(ask(s), "a")
            # down_ms passed, so the dead backend was tried (and failed) once more.
            self.assertEqual(metric(proxy.metrics_port, "passthru_backend_connect_failures_total"), 2)

    def test_every_backend_dead_ends_as_connect_failed_with_the_last_target(self):
        other = free_port()
        with Passthru(config([self.dead, other], "round_robin")) as proxy:
            with connect(proxy.port) as s:
                s.sendall(b"X")
                self.assertEqual(s.recv(10), b"")
            line = proxy.wait_log(r".*end=connect_failed.*", 5)[0]
            self.assertRegex(line, rf"target=127\.0\.0\.1:({self.dead}|{other}) ")

    def test_least_conn_sends_each_new_client_to_the_backend_holding_fewest(self):
        with Passthru(config([self.a.port, self.b.port], "least_conn")) as proxy:
            held = [connect(proxy.port) for _ in range(6)]
            try:
                answers = Counter(ask(s) for s in held)  # each held open while the next arrives
                self.assertEqual(answers, Counter({"a": 3, "b": 3}))
            finally:
                for s in held:
                    s.close()

    def test_least_conn_prefers_the_idle_backend(self):
        with Passthru(config([self.a.port, self.b.port], "least_conn")) as proxy:
            first = connect(proxy.port)
            try:
                where = ask(first)
                other = "b" if where == "a" else "a"
                # While `first` holds its backend, every new short connection goes to the other
                # (each one ended, and logged, before the next comes).
                for done in range(1, 6):
                    with connect(proxy.port) as s:
                        self.assertEqual(ask(s), other)
                    wait_until(lambda: proxy.log().count(" end=") == done, 5, f"{done} connections ended")
            finally:
                first.close()

    def test_source_hash_keeps_each_client_address_on_one_backend_across_restarts(self):
        seen = {}
        for run in range(2):
            with Passthru(config([self.a.port, self.b.port, self.dead], "source_hash")) as proxy:
                for source in ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6", "127.0.0.7"):
                    answers = set()
                    for _ in range(3):
                        with connect_from(source, proxy.port) as s:
                            answers.add(ask(s))
                    self.assertEqual(len(answers), 1, f"{source} went to {answers}")
                    seen.setdefault(source, set()).update(answers)
        self.assertTrue(all(len(v) == 1 for v in seen.values()), seen)  # the same after a restart
        self.assertEqual(set().union(*seen.values()), {"a", "b"}, seen)  # and addresses spread


if __name__ == "__main__":
    unittest.main()
