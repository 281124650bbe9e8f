"""Targets built from the client's name: to_addr = "{sni}:PORT" and "{host}:PORT" connect to
the name the client sent, on a rule whose matcher bounds the names or with an allow list that
is checked against the name and every address it resolves to ("localhost" resolves to
127.0.0.1, where the backends listen, and maybe ::1)."""

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import Passthru, TcpServer, client_hello, connect, name_handler, read_line  # noqa: E402


def reach(port, first_bytes):
    """The backend's name after sending `first_bytes`, or "" if passthru closed the connection."""
    with connect(port) as s:
        s.sendall(first_bytes)
        return read_line(s)


def http_get(host):
    return f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()


class NameTargets(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tls = TcpServer(name_handler("tls-by-name"))
        cls.http = TcpServer(name_handler("http-by-name"))
        cls.proxy = Passthru(f"""
[servers."127.0.0.1:0"]
timeout_ms = 1000
[servers."127.0.0.1:0".TLS]
"SNI localhost"   = {{ action = "FORWARD", to_addr = "{{sni}}:{cls.tls.port}" }}
CATCHALL          = {{ action = "FORWARD", to_addr = "{{sni}}:{cls.tls.port}", allow = ["127.0.0.0/8"] }}
[servers."127.0.0.1:0".HTTP]
"HOST localhost"  = {{ action = "FORWARD", to_addr = "{{host}}:{cls.http.port}", allow = ["localhost", "10.0.0.0/8"] }}
"PATH /"          = {{ action = "FORWARD", to_addr = "{{host}}:{cls.http.port}", allow = [".example.test", "127.0.0.0/8"] }}
[servers."127.0.0.1:0".CATCHALL]
CATCHALL = {{ action = "REJECT" }}
""")

    @classmethod
    def tearDownClass(cls):
        code = cls.proxy.stop()
        cls.tls.close()
        cls.http.close()
        assert code == 0, cls.proxy.log()

    def test_an_exact_sni_rule_connects_to_the_name_it_matched(self):
        self.assertEqual(reach(self.proxy.port, client_hello("localhost")), "tls-by-name")
        self.proxy.wait_log(rf"sni=localhost .*target=localhost:{self.tls.port} ", 5)

    def test_an_address_as_name_inside_the_allowed_prefixes_is_reached(self):
        self.assertEqual(reach(self.proxy.port, client_hello("127.0.0.1")), "tls-by-name")
        self.assertEqual(reach(self.proxy.port, http_get("127.0.0.1")), "http-by-name")

    def test_an_address_as_name_outside_the_allowed_prefixes_is_refused(self):
        self.assertEqual(reach(self.proxy.port, client_hello("10.1.2.3")), "")
        self.proxy.wait_log(r"sni=10\.1\.2\.3 .*target=10\.1\.2\.3:\d+ .*end=connect_failed error=EACCES", 5)

    def test_a_name_that_resolves_outside_the_allowed_prefixes_is_refused(self):
        # "localhost" is an allowed name here, but resolves to 127.0.0.1, outside 10.0.0.0/8.
        self.assertEqual(reach(self.proxy.port, http_get("localhost")), "")
        self.proxy.wait_log(r"host=localhost .*target=localhost:\d+ .*end=connect_failed error=EACCES", 5)

    def test_a_name_outside_the_allowed_names_is_refused_before_any_lookup(self):
        self.assertEqual(reach(self.proxy.port, http_get("internal.corp")), "")
        self.proxy.wait_log(r"host=internal\.corp .*end=connect_failed error=EACCES", 5)
        self.assertNotRegex(self.proxy.log(), r"target=internal\.corp")

if __name__ == "__main__":
    unittest.main()
