"""TLS routing with real peers: openssl s_server backends with their own certificates;
openssl s_client and curl as clients. Which backend a client reached is proven by the
certificate it received (and, for curl, verified)."""

import hashlib
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import (SOURCE, Passthru, TcpServer, TlsBackend, certificate, client_hello, connect,  # noqa: E402
                     curl_https, record_handler, recv_all, s_client, send_in_pieces)

VECTORS = SOURCE / "plugins/tls/tests/vectors"


class SniRouting(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.a = TlsBackend("a.example.com")
        cls.b = TlsBackend("b.example.com")
        cls.h2 = TlsBackend("h2.example.com")
        cls.default = TlsBackend("default.example.com")
        cls.plain = TcpServer(record_handler)
        cls.proxy = Passthru(f"""
[servers."127.0.0.1:0"]
timeout_ms = 2000
[servers."127.0.0.1:0".TLS]
"SNI a.example.com"      = {{ action = "FORWARD", to_addr = "127.0.0.1:{cls.a.port}" }}
# localhost resolves to ::1 and 127.0.0.1; the backend listens on the latter only, so this
# also shows every resolved address is tried in turn.
"SNI *.b.example.com"    = {{ action = "FORWARD", to_addr = "localhost:{cls.b.port}" }}
"SNI hello.example.test" = {{ action = "FORWARD", to_addr = "127.0.0.1:{cls.plain.port}" }}
"SNI reject.example.com" = {{ action = "REJECT" }}
"ALPN h2"                = {{ action = "FORWARD", to_addr = "127.0.0.1:{cls.h2.port}" }}
CATCHALL                 = {{ action = "FORWARD", to_addr = "127.0.0.1:{cls.default.port}" }}
[servers."127.0.0.1:0".CATCHALL]
CATCHALL = {{ action = "REJECT" }}
""")

    @classmethod
    def tearDownClass(cls):
        code = cls.proxy.stop()
        for backend in (cls.a, cls.b, cls.h2, cls.default, cls.plain):
            backend.close()
        assert code == 0, cls.proxy.log()

    def test_exact_name_reaches_its_backend(self):
        self.assertEqual(s_client(self.proxy.port, "a.example.com"), "a.example.com")

    def test_names_compare_case_insensitively(self):
        self.assertEqual(s_client(self.proxy.port, "A.Example.COM"), "a.example.com")

    def test_wildcard_reaches_its_backend_through_a_host_name(self):
        self.assertEqual(s_client(self.proxy.port, "api.b.example.com"), "b.example.com")

    def test_wildcard_does_not_match_the_bare_domain(self):
        self.assertEqual(s_client(self.proxy.port, "b.example.com"), "default.example.com")

    def test_reject_closes_without_a_certificate(self):
        self.assertIsNone(s_client(self.proxy.port, "reject.example.com"))
        self.proxy.wait_log(r'rule="SNI reject.example.com".*action=REJECT.*end=rejected')

    def test_alpn_routes_when_no_name_rule_applies(self):
        self.assertEqual(s_client(self.proxy.port, "unknown.example.net", alpn="h2"), "h2.example.com")
        self.assertEqual(s_client(self.proxy.port, "a.example.com", alpn="h2"), "a.example.com")

    def test_no_sni_goes_to_the_tls_catchall(self):
        self.assertEqual(s_client(self.proxy.port, extra=["-noservername"]), "default.example.com")

    def test_curl_verifies_the_certificate_of_the_backend_it_reached(self):
        cert, _ = certificate("a.example.com")
        r = curl_https(self.proxy.port, "a.example.com", cert)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("s_server", r.stdout)
        cert_b, _ = certificate("b.example.com")
        r = curl_https(self.proxy.port, "x.b.example.com", cert_b, extra=["--http1.1"])
        self.assertNotEqual(r.returncode, 0)  # b's cert names b.example.com, not x.b…
        self.assertIn("SSL", r.stderr)

    def test_a_hello_split_over_records_by_openssl_is_routed(self):
        # -max_send_frag 512 with a long ALPN list makes OpenSSL send the ClientHello as several
        # TLS records (HAProxy 2.6 misreads these).
        alpn = ",".join("p" * 200 + str(i) for i in range(4))
        self.assertEqual(s_client(self.proxy.port, "a.example.com", alpn=alpn, extra=["-max_send_frag", "512"]),
                         "a.example.com")

    def test_captured_hellos_arrive_byte_for_byte_when_trickled(self):
        # The post-quantum Chromium hello (1958 bytes) in 7-byte segments, and every other client's.
        for vector in sorted(VECTORS.glob("*.bin")):
            hello = vector.read_bytes()
            with self.subTest(vector.name), connect(self.proxy.port) as s:
                send_in_pieces(s, hello, 7 if "chromium" in vector.name else 100, pause=0.001)
                s.shutdown(1)
                self.assertEqual(recv_all(s).decode(), hashlib.sha256(hello).hexdigest())

    def test_garbage_and_hostile_hellos_fall_to_the_rule_the_config_gives(self):
        for name, data in [("zero-length record", bytes.fromhex("1603010000")),
                           ("65535-byte record", bytes.fromhex("160301ffff") + b"x" * 100),
                           ("not TLS", b"\x00\x01\x02garbage"),
                           ("truncated hello", (VECTORS / "curl-7.88-openssl.bin").read_bytes()[:200])]:
            with self.subTest(name), connect(self.proxy.port) as s:
                s.sendall(data)
                s.shutdown(1)
                self.assertEqual(recv_all(s), b"")  # the server CATCHALL here is REJECT
        self.assertEqual(s_client(self.proxy.port, "a.example.com"), "a.example.com")  # still serving


class LargeHello(unittest.TestCase):
    def test_a_20k_hello_over_several_records_is_routed_with_a_larger_buffer(self):
        records = client_hello("big.example.com", padding=20000)
        with TcpServer(record_handler) as backend, TcpServer(record_handler) as other, Passthru(f"""
[servers."127.0.0.1:0"]
max_sniff_bytes = 65536
[servers."127.0.0.1:0".TLS]
"SNI big.example.com" = {{ action = "FORWARD", to_addr = "127.0.0.1:{backend.port}" }}
[servers."127.0.0.1:0".CATCHALL]
CATCHALL = {{ action = "FORWARD", to_addr = "127.0.0.1:{other.port}" }}
""") as proxy, connect(proxy.port) as s:
            send_in_pieces(s, records, 1400, pause=0.001)
            s.shutdown(1)
            self.assertEqual(recv_all(s).decode(), hashlib.sha256(records).hexdigest())
            self.assertEqual(backend.received, [records])


if __name__ == "__main__":
    unittest.main()
