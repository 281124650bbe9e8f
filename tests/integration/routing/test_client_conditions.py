"""Conditions on the client: from / not_from on rules, combined with their matcher. Clients
connect from 127.0.0.2, .3 and .4 (all loopback) with a ClientHello naming a server; plain TCP
backends answer with their own name, so each answer says which rule applied. The same rules
written in the opposite order give the same answers, and a client address adopted from a
trusted PROXY header is the one the conditions see."""

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import Passthru, TcpServer, client_hello, connect_from, name_handler, read_line  # noqa: E402


def reach(sock, first_bytes):
    """Sends the first bytes and reads the backend's name; "" if passthru closed the connection."""
    sock.sendall(first_bytes)
    return read_line(sock)


class ClientConditions(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.backends = {name: TcpServer(name_handler(name)) for name in ("admin", "wildcard", "default", "listener")}

    @classmethod
    def tearDownClass(cls):
        for backend in cls.backends.values():
            backend.close()

    def rules(self):
        port = {name: b.port for name, b in self.backends.items()}
        return [
            f'"SNI admin.example.com" = {{ action = "FORWARD", to_addr = "127.0.0.1:{port["admin"]}", from = ["127.0.0.2/32", "10.0.0.0/8"] }}',
            f'"SNI *.example.com" = {{ action = "FORWARD", to_addr = "127.0.0.1:{port["wildcard"]}", not_from = ["127.0.0.3"] }}',
            f'CATCHALL = {{ action = "FORWARD", to_addr = "127.0.0.1:{port["default"]}", from = ["127.0.0.0/8"], not_from = ["127.0.0.4"] }}',
        ], port

    def config(self, reverse):
        rules, port = self.rules()
        if reverse:
            rules.reverse()
        return f"""
[servers."127.0.0.1:0"]
timeout_ms = 1000
[servers."127.0.0.1:0".PROXY]
"FROM 127.0.0.9/32" = {{ action = "UNWRAP" }}
[servers."127.0.0.1:0".TLS]
""" + "\n".join(rules) + f"""
[servers."127.0.0.1:0".CATCHALL]
CATCHALL = {{ action = "FORWARD", to_addr = "127.0.0.1:{port["listener"]}" }}
"""

    # (client address, SNI) -> backend; the rule the name selects applies only to its clients,
    # and a client it does not admit gets the table's CATCHALL (never a less specific name rule).
    CASES = [
        ("127.0.0.2", "admin.example.com", "admin"),
        ("127.0.0.3", "admin.example.com", "default"),   # not in from: the TLS CATCHALL, not *.example.com
        ("127.0.0.2", "www.example.com", "wildcard"),
        ("127.0.0.3", "www.example.com", "default"),     # not_from the wildcard
        ("127.0.0.4", "www.example.com", "wildcard"),
        ("127.0.0.4", "other.test", "listener"),         # the TLS CATCHALL's not_from: the listener's CATCHALL
        ("127.0.0.2", "other.test", "default"),
    ]

    def test_each_rule_applies_to_its_clients_only_in_either_file_order(self):
        for reverse in (False, True):
            with Passthru(self.config(reverse)) as proxy:
                for source, name, expected in self.CASES:
                    with self.subTest(reverse=reverse, source=source, name=name):
                        with connect_from(source, proxy.port) as s:
                            self.assertEqual(reach(s, client_hello(name)), expected)
                proxy.wait_log(r"client=127\.0\.0\.4:\d+ .*fallback=no_rule", 5)

    def test_a_client_address_from_a_trusted_proxy_header_is_the_one_conditions_see(self):
        with Passthru(self.config(False)) as proxy:
            # PROXY v1 (proxy-protocol.txt §2.1) from the trusted 127.0.0.9: the client is 10.1.2.3.
            header = b"PROXY TCP4 10.1.2.3 127.0.0.1 40000 443\r\n"
            with connect_from("127.0.0.9", proxy.port) as s:
                self.assertEqual(reach(s, header + client_hello("admin.example.com")), "admin")
            # The same header from 127.0.0.3 is not trusted: no UNWRAP, nothing TLS, the listener's CATCHALL.
            with connect_from("127.0.0.3", proxy.port) as s:
                self.assertEqual(reach(s, header + client_hello("admin.example.com")), "listener")
            # A trusted header naming 192.0.2.1, outside from: the TLS CATCHALL's from does not admit it either.
            header = b"PROXY TCP4 192.0.2.1 127.0.0.1 40000 443\r\n"
            with connect_from("127.0.0.9", proxy.port) as s:
                self.assertEqual(reach(s, header + client_hello("admin.example.com")), "listener")


if __name__ == "__main__":
    unittest.main()
