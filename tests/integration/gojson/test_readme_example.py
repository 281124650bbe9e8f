"""passthru (Go)'s README example, as its JSON is written (readme_example.json; the public
addresses replaced by local backends, the listener by port 0), run as it is and as the TOML that
`passthru convert` writes for it: the same clients reach the same backends either way. Real
peers: openssl s_server backends named as the Go example's sites, openssl s_client and curl as
clients. Also: --check prints a note at each place where passthru's rules decide what Go left
open, -w and -t given as Go's README wrote them set workers and the detection timeout, and a
broken JSON config at reload keeps the running one and says where, in the JSON."""

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import BINARY, Passthru, TcpServer, TlsBackend, connect, s_client, seconds, wait_until  # noqa: E402

EXAMPLE = Path(__file__).resolve().parent / "readme_example.json"


def http_handler(server, conn):
    """The CATCHALL backend (neverssl.com:80 in the example): notes each connection as it comes,
    then answers one HTTP request."""
    server.received.append(time.monotonic())
    request = b""
    while b"\r\n\r\n" not in request:
        chunk = conn.recv(4096)
        if not chunk:
            return
        request += chunk
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nneverssl\n")


def local_example(gaukas, google, plain):
    """The README's JSON with its public addresses replaced by local ones, nothing else changed."""
    text = EXAMPLE.read_text()
    for public, local in (("127.0.0.1:443", "127.0.0.1:0"), ("185.199.111.153:443", f"127.0.0.1:{gaukas}"),
                          ("142.250.72.46:443", f"127.0.0.1:{google}"), ("neverssl.com:80", f"127.0.0.1:{plain}")):
        assert public in text
        text = text.replace(public, local)
    return text


def run(*args, cwd=None):
    return subprocess.run([str(BINARY), *args], capture_output=True, text=True, timeout=seconds(30), cwd=cwd)


def curl_http(port):
    r = subprocess.run(["curl", "-sS", "--max-time", str(seconds(10)), f"http://127.0.0.1:{port}/"],
                       capture_output=True, text=True)
    return r.stdout if r.returncode == 0 else f"curl failed: {r.returncode}"


class GoReadmeExample(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gaukas = TlsBackend("gaukas.wang")
        cls.google = TlsBackend("google.com")
        cls.plain = TcpServer(http_handler)
        cls.json = local_example(cls.gaukas.port, cls.google.port, cls.plain.port)

    @classmethod
    def tearDownClass(cls):
        for backend in (cls.gaukas, cls.google, cls.plain):
            backend.close()

    def routing(self, proxy):
        """What each client reaches: a certificate's name, the HTTP backend's answer, or None."""
        port = proxy.port
        return {
            "SNI gaukas.wang": s_client(port, "gaukas.wang"),
            "SNI google.com": s_client(port, "google.com"),
            "SNI other.example": s_client(port, "other.example"),  # the TLS CATCHALL: REJECT
            "no SNI": s_client(port, extra=["-noservername"]),
            "plain HTTP": curl_http(port),  # no protocol claims it: the server CATCHALL
        }

    def converted(self):
        with tempfile.TemporaryDirectory(prefix="passthru-test-") as folder:
            path = Path(folder) / "go.json"
            path.write_text(self.json)
            r = run("convert", str(path))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        return r.stdout

    def test_the_json_and_its_conversion_route_every_client_the_same(self):
        expected = {"SNI gaukas.wang": "gaukas.wang", "SNI google.com": "google.com", "SNI other.example": None,
                    "no SNI": None, "plain HTTP": "neverssl\n"}
        with Passthru(self.json, name="go.json") as proxy:
            from_json = self.routing(proxy)
        with Passthru(self.converted(), name="go.toml") as proxy:
            from_toml = self.routing(proxy)
        self.assertEqual(from_json, expected)
        self.assertEqual(from_toml, from_json)

    def test_the_conversion_is_passthrus_toml_with_a_comment_where_behaviour_differs(self):
        toml = self.converted()
        self.assertIn(f'[servers."127.0.0.1:0".TLS]\n"SNI gaukas.wang" = {{ action = "FORWARD", to_addr = '
                      f'"127.0.0.1:{self.gaukas.port}" }}\n', toml)
        self.assertIn('CATCHALL = { action = "REJECT" }\n', toml)
        self.assertIn(f'[servers."127.0.0.1:0".CATCHALL]\nCATCHALL = {{ action = "FORWARD", to_addr = '
                      f'"127.0.0.1:{self.plain.port}" }}\n', toml)
        self.assertEqual(len(re.findall(r"^# note: ", toml, re.M)), 2, toml)

    def test_check_prints_a_note_where_go_left_the_behaviour_open(self):
        r = run("--check", "-c", str(EXAMPLE))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("readme_example.json: OK (1 listener; plugins: ", r.stdout)
        notes = r.stderr.splitlines()
        self.assertEqual(len(notes), 2, r.stderr)
        self.assertTrue(notes[0].startswith(f"{EXAMPLE}:5:13: note: passthru (Go) tried these rules in no fixed order"),
                        notes[0])
        self.assertTrue(notes[1].startswith(f"{EXAMPLE}:18:13: note: passthru (Go) had no protocol named CATCHALL"),
                        notes[1])

    def test_w_and_t_as_go_wrote_them_set_workers_and_the_detection_timeout(self):
        for args in (["-w=2", "-t=1"], ["--w", "2", "--t=1s"]):
            with self.subTest(args=args), Passthru(self.json, name="go.json", args=args) as proxy:
                self.assertIn("(2 workers)", "".join(proxy.stdout_lines))
                seen = len(self.plain.received)
                with connect(proxy.port) as silent:  # sends nothing: only the timeout decides
                    started = time.monotonic()
                    wait_until(lambda: len(self.plain.received) > seen, 5, "the server CATCHALL's backend")
                    waited = self.plain.received[-1] - started
                self.assertGreater(waited, 0.9)
                self.assertLess(waited, seconds(3))  # not Go's (and passthru's) default 5 s
                proxy.wait_log(r"fallback=timeout")

    def test_a_broken_json_config_at_reload_keeps_the_running_one_and_says_where(self):
        with Passthru(self.json, name="go.json") as proxy:
            broken = self.json.replace('"action": "REJECT"', '"action": "DROP"')
            fresh = proxy.path.with_suffix(".new")
            fresh.write_text(broken)
            os.replace(fresh, proxy.path)
            os.kill(proxy.pid, signal.SIGHUP)
            proxy.wait_log(r"reload failed: kept the running config")
            self.assertIn(f"{proxy.path}:15:31: error: action must be", proxy.log())
            self.assertEqual(s_client(proxy.port, "gaukas.wang"), "gaukas.wang")
            self.assertIsNone(s_client(proxy.port, "other.example"))


if __name__ == "__main__":
    unittest.main()
