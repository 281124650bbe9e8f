"""The PROXY protocol with real peers, never our own encoder on the other side: HAProxy with
send-proxy and send-proxy-v2 in front of passthru (trusted), passthru's send_proxy into HAProxy
accept-proxy and nginx proxy_protocol, whose answers show the client address they were given.
Clients connect from other loopback addresses (127.0.0.2, 127.0.0.3, ...) so the right address
is seen to travel. Also: an untrusted peer's header refused, v2 LOCAL, and a chain of two
passthru instances delivering the original client address."""

import subprocess
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import (SOURCE, Passthru, client_hello, connect_from, free_port, haproxy, nginx, recv_all,  # noqa: E402
                     seconds, wait_until)

HELLO = (SOURCE / "plugins/tls/tests/vectors/chromium-156.bin").read_bytes()  # SNI hello.example.test


def curl_from(source_ip, url, *args):
    r = subprocess.run(["curl", "-sS", "--noproxy", "*", "--interface", source_ip, "--max-time", str(seconds(10)),
                        *args, url], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout


class ProxyProtocol(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Peers that print the client address a PROXY header gave them.
        cls.nginx_http = free_port()     # HTTP, PROXY v1 or v2: "<addr>:<port> to <addr>:<port>"
        cls.nginx_stream = free_port()   # TLS, PROXY v1 or v2: "<addr>"
        cls.web = nginx(http=f'  server {{ listen 127.0.0.1:{cls.nginx_http} proxy_protocol; '
                             f'return 200 "$proxy_protocol_addr:$proxy_protocol_port to '
                             f'$proxy_protocol_server_addr:$proxy_protocol_server_port\\n"; }}\n',
                        # ssl_preread reads the ClientHello first: closing with it unread would reset
                        stream=f'  server {{ listen 127.0.0.1:{cls.nginx_stream} proxy_protocol; ssl_preread on; '
                               f'return "$proxy_protocol_addr\\n"; }}\n',
                        ports=[cls.nginx_http, cls.nginx_stream])
        cls.haproxy_echo = free_port()
        cls.echo = haproxy(f"""
frontend echo
  bind 127.0.0.1:{cls.haproxy_echo} accept-proxy
  mode http
  http-request return status 200 content-type text/plain lf-string "src=%[src] authority=%[fc_pp_authority] uid=%[fc_pp_unique_id]\\n"
""", [cls.haproxy_echo])
        cls.inner = Passthru(f"""
[servers."127.0.0.1:0"]
timeout_ms = 3000
[servers."127.0.0.1:0".PROXY]
"FROM 127.0.0.1" = {{ action = "UNWRAP" }}
CATCHALL         = {{ action = "REJECT" }}
[servers."127.0.0.1:0".TLS]
"SNI hello.example.test" = {{ action = "FORWARD", to_addr = "127.0.0.1:{cls.nginx_stream}", send_proxy = "v2" }}
[servers."127.0.0.1:0".HTTP]
"HOST app.example"  = {{ action = "FORWARD", to_addr = "127.0.0.1:{cls.haproxy_echo}", send_proxy = "v2", proxy_v2_options = ["crc32c", "unique_id"] }}
"HOST v2.example"   = {{ action = "FORWARD", to_addr = "127.0.0.1:{cls.nginx_http}", send_proxy = "v2" }}
CATCHALL            = {{ action = "FORWARD", to_addr = "127.0.0.1:{cls.nginx_http}", send_proxy = "v1" }}
""")
        # HAProxy in front of passthru, once with each PROXY version.
        cls.front_v1, cls.front_v2 = free_port(), free_port()
        cls.front = haproxy(f"""
listen front_v1
  bind 127.0.0.1:{cls.front_v1}
  mode tcp
  server inner 127.0.0.1:{cls.inner.port} send-proxy
listen front_v2
  bind 127.0.0.1:{cls.front_v2}
  mode tcp
  server inner 127.0.0.1:{cls.inner.port} send-proxy-v2
""", [cls.front_v1, cls.front_v2])
        # A second passthru in front of the first: the chain.
        cls.outer = Passthru(f"""
[servers."127.0.0.1:0"]
[servers."127.0.0.1:0".TLS]
CATCHALL = {{ action = "FORWARD", to_addr = "127.0.0.1:{cls.inner.port}", send_proxy = "v2" }}
""")
        time.sleep(0.3)
        cls.inner_fds, cls.outer_fds = cls.inner.fd_count(), cls.outer.fd_count()

    @classmethod
    def tearDownClass(cls):
        codes = [p.stop() for p in (cls.outer, cls.inner)]
        for peer in (cls.front, cls.echo, cls.web):
            peer.close()
        assert codes == [0, 0], cls.inner.log()

    def test_haproxy_send_proxy_v1_and_v2_in_front_deliver_the_real_client(self):
        for port, version, source in ((self.front_v1, "v1", "127.0.0.2"), (self.front_v2, "v2", "127.0.0.3")):
            with self.subTest(version):
                answer = curl_from(source, f"http://127.0.0.1:{port}/")
                self.assertTrue(answer.startswith(source + ":"), answer)  # nginx got it from our v1 header
                self.assertTrue(answer.endswith(f" to 127.0.0.1:{port}\n"), answer)  # HAProxy's destination
                self.inner.wait_log(rf"client={source}:\d+ via=127\.0\.0\.1:\d+ [^\n]*proxy={version} ")

    def test_send_proxy_v2_into_haproxy_carries_address_authority_crc_and_unique_id(self):
        answer = curl_from("127.0.0.3", f"http://127.0.0.1:{self.inner.port}/", "-H", "Host: app.example")
        self.assertRegex(answer, r"^src=127\.0\.0\.3 authority=app\.example uid=[0-9a-f]{32}\n$")

    def test_send_proxy_v1_and_v2_into_nginx(self):
        for source, host in (("127.0.0.4", "v1.example"), ("127.0.0.5", "v2.example")):
            with self.subTest(host):
                answer = curl_from(source, f"http://127.0.0.1:{self.inner.port}/", "-H", f"Host: {host}")
                self.assertTrue(answer.startswith(source + ":"), answer)
                # No header came in: the destination is the address the client reached passthru at.
                self.assertTrue(answer.endswith(f" to 127.0.0.1:{self.inner.port}\n"), answer)

    def test_a_header_from_an_untrusted_peer_is_refused(self):
        with connect_from("127.0.0.6", self.inner.port) as s:
            s.sendall(b"PROXY TCP4 6.6.6.6 127.0.0.1 6666 443\r\nGET / HTTP/1.1\r\nHost: app.example\r\n\r\n")
            self.assertEqual(recv_all(s), b"")
        line = self.inner.wait_log(r"client=127\.0\.0\.6:\d+ listener=[^\n]*protocol=PROXY rule=\"CATCHALL\"[^\n]*")[-1]
        self.assertIn("action=REJECT", line)
        self.assertNotIn("6.6.6.6", line)

    def test_v2_local_from_a_trusted_peer_keeps_the_real_address(self):
        local = b"\r\n\r\n\x00\r\nQUIT\n" + b"\x20\x00\x00\x00"  # signature; v2 LOCAL; UNSPEC; no addresses
        with connect_from("127.0.0.1", self.inner.port) as s:
            s.sendall(local + b"GET / HTTP/1.1\r\nHost: other.example\r\nConnection: close\r\n\r\n")
            answer = recv_all(s).decode()
        self.assertIn("\r\n\r\n127.0.0.1:", answer)

    def test_a_chain_of_two_passthru_delivers_the_original_client(self):
        # client 127.0.0.7 -> outer (sends v2) -> inner (trusts outer, routes by SNI, sends v2) -> nginx
        with connect_from("127.0.0.7", self.outer.port) as s:
            s.sendall(HELLO)
            self.assertEqual(recv_all(s), b"127.0.0.7\n")
        # The outer's header carries the SNI and the hello's first ALPN protocol as TLVs.
        self.inner.wait_log(r'client=127\.0\.0\.7:\d+ via=127\.0\.0\.1:\d+ [^\n]*proxy=v2 '
                            r'pp_authority=hello\.example\.test pp_alpn=h2 [^\n]*rule="SNI hello\.example\.test"')

    def test_the_alpn_passed_on_is_the_first_protocol_exactly_as_offered(self):
        # Byte for byte: not the list as logged ("x,y?,h2"), nor its text before the first comma.
        hello = client_hello("hello.example.test", alpn=[b"x,y\x7f", b"h2"])
        with connect_from("127.0.0.8", self.outer.port) as s:
            s.sendall(hello)
            self.assertEqual(recv_all(s), b"127.0.0.8\n")
        self.inner.wait_log(r'client=127\.0\.0\.8:\d+ [^\n]*pp_alpn="x,y\\x7f" ')

    def test_zz_both_instances_end_with_no_connection_open(self):
        wait_until(lambda: self.inner.fd_count() == self.inner_fds and self.outer.fd_count() == self.outer_fds, 10,
                   "both passthru instances to close every connection")


if __name__ == "__main__":
    unittest.main()
