"""The [metrics] listener: /metrics in the Prometheus text format (promtool accepts it) with exact
counts per rule, fallback, end, limit and reload; label values only from the config (never a
client's SNI); /ready 200 while accepting and 503 while draining; /live; and a real Prometheus
server scraping passthru while traffic flows, whose query API returns the counts per rule."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import (Passthru, TcpServer, TlsBackend, client_hello, connect, echo_handler, free_port,  # noqa: E402
                     s_client, seconds, wait_until)


def config(tls_port, echo_port, extra=""):
    return f"""
[metrics]
listen = "127.0.0.1:0"
[servers."127.0.0.1:0"]
timeout_ms = 500
max_connections_per_source = 20
{extra}
[servers."127.0.0.1:0".TLS]
"SNI svc.example" = {{ action = "FORWARD", to_addr = "127.0.0.1:{tls_port}" }}
"SNI *.blocked.example" = {{ action = "REJECT" }}
[servers."127.0.0.1:0".CATCHALL]
CATCHALL = {{ action = "FORWARD", to_addr = "127.0.0.1:{echo_port}" }}
"""


def get(port, path):
    """(status, body) of GET http://127.0.0.1:port/path."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=seconds(10)) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def sample(text, name, **labels):
    """The value of the sample `name` whose labels include `labels`, summed if several match."""
    total, found = 0.0, False
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        m = re.match(r"(\w+)(?:\{(.*)\})? (\S+)$", line)
        if m.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(m.group(3))
            found = True
    return total if found else None


class Metrics(unittest.TestCase):
    def test_counts_format_and_bounded_labels(self):
        with TlsBackend("svc.example") as tls, TcpServer(echo_handler) as echo:
            with Passthru(config(tls.port, echo.port)) as proxy:
                m = proxy.metrics_port
                self.assertIsNotNone(m, "no 'serving metrics on' line")
                for _ in range(3):
                    self.assertEqual(s_client(proxy.port, "svc.example"), "svc.example")
                for name in ("x.blocked.example", "y.blocked.example"):
                    self.assertIsNone(s_client(proxy.port, name))
                for _ in range(4):  # not TLS: the CATCHALL, which forwards to the echo
                    with connect(proxy.port) as s:
                        s.sendall(b"Xhello")
                        self.assertEqual(s.recv(100), b"Xhello")
                        s.shutdown(socket.SHUT_WR)
                        s.recv(100)
                with connect(proxy.port) as s:  # a name no rule knows: the TLS table has no CATCHALL
                    s.sendall(client_hello("client-chosen-name.example"))
                    s.settimeout(seconds(5))
                    s.recv(100)
                wait_until(lambda: sample(get(m, "/metrics")[1], "passthru_connections_active") == 0, 10,
                           "every connection counted as closed")
                status, text = get(m, "/metrics")
                self.assertEqual(status, 200)
                check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
                self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
                listener = f"127.0.0.1:{proxy.port}"
                self.assertEqual(sample(text, "passthru_connections_accepted_total", listener=listener), 10)
                self.assertEqual(sample(text, "passthru_decisions_total", rule="SNI svc.example", action="FORWARD"), 3)
                self.assertEqual(sample(text, "passthru_decisions_total", rule="SNI *.blocked.example"), 2)
                self.assertEqual(sample(text, "passthru_decisions_total", protocol="-", rule="CATCHALL"), 5)
                self.assertEqual(sample(text, "passthru_fallbacks_total", reason="no_protocol"), 4)
                self.assertEqual(sample(text, "passthru_fallbacks_total", reason="no_rule"), 1)
                self.assertEqual(sample(text, "passthru_connection_ends_total", end="rejected"), 2)
                self.assertEqual(sample(text, "passthru_bytes_total", protocol="-", direction="up"), 4 * 6 + len(
                    client_hello("client-chosen-name.example")))
                self.assertEqual(sample(text, "passthru_detection_seconds_count", listener=listener), 10)
                self.assertEqual(sample(text, "passthru_backend_connect_seconds_count", listener=listener), 8)
                self.assertEqual(sample(text, "passthru_detection_seconds_bucket", le="+Inf"), 10)
                self.assertNotIn("client-chosen-name", text, "a client's name became a label")
                self.assertNotIn("x.blocked.example", text)
                self.assertEqual(get(m, "/live")[0], 200)
                self.assertEqual(get(m, "/nothing")[0], 404)

    def test_limits_and_reloads_are_counted(self):
        with TcpServer(echo_handler) as echo:
            with Passthru(config(1, echo.port)) as proxy:
                held = []
                for _ in range(22):  # 20 per source: two refused
                    try:
                        held.append(connect(proxy.port))
                    except ConnectionResetError:
                        pass  # a refusal's reset may come before connect() returns
                wait_until(lambda: sample(get(proxy.metrics_port, "/metrics")[1], "passthru_connections_refused_total",
                                          limit="max_connections_per_source") == 2, 10, "two refusals counted")
                for s in held:
                    s.close()
                good = proxy.path.read_text()
                proxy.path.write_text("broken = [\n")
                os.kill(proxy.pid, signal.SIGHUP)
                proxy.wait_log("reload failed")
                proxy.path.write_text(good)
                os.kill(proxy.pid, signal.SIGHUP)
                proxy.wait_log("reloaded:")
                text = get(proxy.metrics_port, "/metrics")[1]
                self.assertEqual(sample(text, "passthru_reloads_total", result="success"), 1)
                self.assertEqual(sample(text, "passthru_reloads_total", result="failure"), 1)
                self.assertEqual(sample(text, "passthru_config_last_reload_successful"), 1)

    def test_ready_while_accepting_and_503_while_draining(self):
        with TcpServer(echo_handler) as echo:
            proxy = Passthru("drain_timeout_ms = 20000\n" + config(1, echo.port))
            try:
                self.assertEqual(get(proxy.metrics_port, "/ready"), (200, "ready\n"))
                relay = connect(proxy.port)
                relay.sendall(b"Xkeep")
                self.assertEqual(relay.recv(10), b"Xkeep")
                os.kill(proxy.pid, signal.SIGTERM)
                wait_until(lambda: get(proxy.metrics_port, "/ready")[0] == 503, 10, "/ready to say 503")
                self.assertEqual(get(proxy.metrics_port, "/live")[0], 200)
                relay.close()  # the drain ends with the last connection
                self.assertEqual(proxy.process.wait(timeout=seconds(20)), 0)
            finally:
                proxy.stop()
                proxy.dir.cleanup()

    def test_a_real_prometheus_scrapes_it(self):
        with TlsBackend("svc.example") as tls, TcpServer(echo_handler) as echo, \
                tempfile.TemporaryDirectory() as data:
            with Passthru(config(tls.port, echo.port)) as proxy:
                web = free_port()
                scrape = Path(data) / "prometheus.yml"
                scrape.write_text("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: passthru\n"
                                  f"    static_configs:\n      - targets: ['127.0.0.1:{proxy.metrics_port}']\n")
                prometheus = subprocess.Popen(["prometheus", f"--config.file={scrape}", f"--storage.tsdb.path={data}/tsdb",
                                               f"--web.listen-address=127.0.0.1:{web}"],
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                try:
                    for _ in range(5):  # traffic while it scrapes
                        self.assertEqual(s_client(proxy.port, "svc.example"), "svc.example")
                    for _ in range(2):
                        self.assertIsNone(s_client(proxy.port, "a.blocked.example"))

                    def query(expression):
                        url = f"http://127.0.0.1:{web}/api/v1/query?query=" + urllib.request.quote(expression)
                        try:
                            with urllib.request.urlopen(url, timeout=5) as r:
                                result = json.loads(r.read())["data"]["result"]
                        except (OSError, ValueError, KeyError):
                            return None
                        return float(result[0]["value"][1]) if result else None

                    forwarded = 'sum(passthru_decisions_total{job="passthru",rule="SNI svc.example"})'
                    wait_until(lambda: query(forwarded) == 5, 60, "Prometheus to report 5 forwarded connections")
                    rejected = 'sum(passthru_decisions_total{rule="SNI *.blocked.example",action="REJECT"})'
                    wait_until(lambda: query(rejected) == 2, 30, "Prometheus to report 2 rejected connections")
                    self.assertEqual(query('up{job="passthru"}'), 1)
                finally:
                    prometheus.terminate()
                    prometheus.wait(timeout=30)


if __name__ == "__main__":
    unittest.main()
