"""Transparent mode through a real kernel: three network namespaces joined by veth pairs, as
uproxy's diagram has them, with documentation addresses only:

  client 198.51.100.2        router: passthru, nftables TPROXY        server 203.0.113.10, .20
         2001:db8:1::2 --c0-- rc 198.51.100.1 / rs 203.0.113.1 --s0-- 2001:db8:2::10
                                  2001:db8:1::1 / 2001:db8:2::1

The client connects to the server's own addresses; the router diverts ports 443 and 7000 to
passthru, which sniffs and connects on, from the client's own address where the rule says so.
The server's default route points back through the router, whose socket match marks the
replies for local delivery. The server's peers say which peer address they saw, so the test
reads what the backend saw; passthru's log line shows dst= and target=. Needs root, ip and nft,
and fails saying which is missing. Every namespace is torn down, whatever happens."""

import json
import os
import re
import select
import shutil
import subprocess
import sys
import unittest
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import Passthru, certificate, client_hello, seconds  # noqa: E402

PEERS = Path(__file__).resolve().parent / "peers.py"
CLIENT4, CLIENT6 = "198.51.100.2", "2001:db8:1::2"
SERVER4, SERVER4B, SERVER6 = "203.0.113.10", "203.0.113.20", "2001:db8:2::10"
# The client's address with any port, as the server and the log show it: with source = "client"
# the server sees a port the kernel picked, not the client's own.
FROM_CLIENT4, FROM_CLIENT6 = rf"{re.escape(CLIENT4)}:\d+", rf"\[{re.escape(CLIENT6)}\]:\d+"


def missing_requirements():
    """What this test needs and the machine lacks, in words; empty when nothing is missing."""
    missing = [f"the {tool} command (Debian package {package}; tools/setup.sh installs it)"
               for tool, package in (("ip", "iproute2"), ("nft", "nftables")) if not shutil.which(tool)]
    if os.geteuid() != 0:
        missing.append("root (network namespaces, nftables and IP_TRANSPARENT need CAP_SYS_ADMIN and CAP_NET_ADMIN)")
    return missing


def run(*argv, stdin=None):
    r = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=seconds(20))
    if r.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


class Topology:
    """The three namespaces, their links, addresses and routes; close() deletes them all."""

    def __init__(self):
        tag = uuid.uuid4().hex[:8]
        self.client, self.router, self.server = (f"passthru-{role}-{tag}" for role in ("c", "r", "s"))
        self.made = []
        for ns in (self.client, self.router, self.server):
            run("ip", "netns", "add", ns)
            self.made.append(ns)
            run("ip", "-n", ns, "link", "set", "lo", "up")
        run("ip", "-n", self.router, "link", "add", "rc", "type", "veth", "peer", "name", "c0", "netns", self.client)
        run("ip", "-n", self.router, "link", "add", "rs", "type", "veth", "peer", "name", "s0", "netns", self.server)
        # The router forwards nothing, and its rules drop what they do not divert: what reaches
        # the server went through passthru.
        self.address(self.client, "c0", f"{CLIENT4}/24", f"{CLIENT6}/64")
        self.address(self.router, "rc", "198.51.100.1/24", "2001:db8:1::1/64")
        self.address(self.router, "rs", "203.0.113.1/24", "2001:db8:2::1/64")
        self.address(self.server, "s0", f"{SERVER4}/24", f"{SERVER4B}/24", f"{SERVER6}/64")
        for ns, v4, v6 in ((self.client, "198.51.100.1", "2001:db8:1::1"), (self.server, "203.0.113.1", "2001:db8:2::1")):
            run("ip", "-n", ns, "route", "add", "default", "via", v4)
            run("ip", "-n", ns, "-6", "route", "add", "default", "via", v6)
        # Packets marked 1 (diverted, or for a transparent socket) are delivered on this host.
        for family, everything in (("-4", "0.0.0.0/0"), ("-6", "::/0")):
            run("ip", "-n", self.router, family, "rule", "add", "fwmark", "1", "lookup", "100")
            run("ip", "-n", self.router, family, "route", "add", "local", everything, "dev", "lo", "table", "100")

    def address(self, ns, device, *addresses):
        for address in addresses:  # IPv6 without duplicate address detection: usable at once
            run("ip", "-n", ns, "address", "add", address, "dev", device, *(["nodad"] if ":" in address else []))
        run("ip", "-n", ns, "link", "set", device, "up")

    def divert(self, port4, port6):
        """The router's TPROXY rules: ports 443 and 7000 of the server's addresses, from the
        client's side, go to passthru's listeners; the flows of transparent sockets are marked."""
        run("ip", "netns", "exec", self.router, "nft", "-f", "-", stdin=f"""
table inet passthru_test {{
  chain prerouting {{
    type filter hook prerouting priority mangle; policy accept;
    meta l4proto tcp socket transparent 1 meta mark set 1 accept
    iifname "rc" ip daddr 203.0.113.0/24 tcp dport {{ 443, 7000 }} tproxy ip to :{port4} meta mark set 1 accept
    iifname "rc" ip6 daddr 2001:db8:2::/64 tcp dport {{ 443, 7000 }} tproxy ip6 to :{port6} meta mark set 1 accept
    iifname "rc" tcp dport {{ 443, 7000 }} drop
  }}
}}
""")

    def close(self):
        for ns in self.made:
            subprocess.run(["ip", "netns", "delete", ns], capture_output=True, timeout=seconds(20))


CONFIG = """
[servers."0.0.0.0:0"]
transparent = true
timeout_ms = 3000
[servers."0.0.0.0:0".TLS]
"SNI a.example" = { action = "FORWARD", to_addr = "ORIGINAL", source = "client" }
"SNI b.example" = { action = "FORWARD", to_addr = "203.0.113.20:8443", source = "client" }
"SNI c.example" = { action = "FORWARD", to_addr = "ORIGINAL:8443", source = "client" }
"SNI p.example" = { action = "FORWARD", to_addr = "203.0.113.20:9000", send_proxy = "v1" }
"SNI d.example" = { action = "FORWARD", to_addr = "203.0.113.20:7000", source = "client_port" }
"SNI self.example" = { action = "FORWARD", to_addr = "ORIGINAL" }
[servers."0.0.0.0:0".CATCHALL]
CATCHALL = { action = "FORWARD", to_addr = "ORIGINAL", source = "client_port" }

[servers."[::]:0"]
transparent = true
timeout_ms = 3000
[servers."[::]:0".TLS]
"SNI a.example" = { action = "FORWARD", to_addr = "ORIGINAL", source = "client" }
[servers."[::]:0".CATCHALL]
CATCHALL = { action = "FORWARD", to_addr = "ORIGINAL", source = "client_port" }
"""


class TransparentMode(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        missing = missing_requirements()
        if missing:  # CI runs as root with both installed: their absence is a failure, never a skip
            raise AssertionError("the transparent-mode test cannot run without: " + "; ".join(missing))
        cls.topology = cls.peers = cls.passthru = None
        try:
            cls.topology = Topology()
            specs = [{"kind": "tls", "host": host, "port": port, "cert": str(cert), "key": str(key)}
                     for host, port, (cert, key) in ((SERVER4, 443, certificate("a.example")),
                                                     (SERVER4B, 8443, certificate("b.example")),
                                                     (SERVER4, 8443, certificate("c.example")),
                                                     (SERVER6, 443, certificate("a.example")))]
            specs += [{"kind": "plain", "host": host, "port": 7000} for host in (SERVER4, SERVER6)]
            specs += [{"kind": "proxy", "host": SERVER4B, "port": 9000}]
            cls.peers = subprocess.Popen(["ip", "netns", "exec", cls.topology.server, sys.executable, str(PEERS),
                                          "serve", json.dumps(specs)], stdout=subprocess.PIPE, text=True)
            ready, _, _ = select.select([cls.peers.stdout], [], [], seconds(10))
            assert ready and cls.peers.stdout.readline() == "ready\n", "the server namespace's peers did not start"
            cls.passthru = Passthru(CONFIG, workers=1, listeners=2, wrapper=("ip", "netns", "exec", cls.topology.router))
            cls.topology.divert(*cls.passthru.ports)
        except BaseException:
            cls.tear_down()
            raise

    @classmethod
    def tear_down(cls):
        try:
            if cls.passthru:
                cls.passthru.__exit__(None, None, None)  # stops it: exit status 0, no sanitizer report
        finally:
            if cls.peers:
                cls.peers.kill()
                cls.peers.wait()
                cls.peers.stdout.close()
            if cls.topology:
                cls.topology.close()

    @classmethod
    def tearDownClass(cls):
        cls.tear_down()

    def s_client(self, host, name):
        """openssl s_client from the client namespace: (the certificate's CN, the peer the server saw)."""
        r = subprocess.run(["ip", "netns", "exec", self.topology.client, "openssl", "s_client", "-connect",
                            f"[{host}]:443" if ":" in host else f"{host}:443", "-servername", name, "-ign_eof"],
                           input="", capture_output=True, text=True, timeout=seconds(20))
        cn = re.search(r"subject=CN ?= ?(\S+)", r.stdout)
        peer = re.search(r"^peer=(\S+)$", r.stdout, re.M)
        return (cn.group(1) if cn else None), (peer.group(1) if peer else r.stdout + r.stderr)

    def connect(self, ns, host, port, data):
        """peers.py connect in namespace `ns`: (its own address, the reply)."""
        r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, str(PEERS), "connect", host, str(port),
                            data.hex(), str(seconds(10))], capture_output=True, text=True, timeout=seconds(20))
        local = re.search(r"^local=(\S+)$", r.stdout, re.M)
        return (local.group(1) if local else None), r.stdout + r.stderr

    def log_line(self, client, *fields):
        """Waits for passthru's line for a connection from `client` (a pattern) with every one of `fields`."""
        lookaheads = "".join(rf"(?=[^\n]* {re.escape(field)}(?: |$))" for field in fields)
        return self.passthru.wait_log(rf"client={client} {lookaheads}[^\n]*")[-1]

    def assert_tls_through(self, server, name, target, client=FROM_CLIENT4):
        """s_client to `server`:443 with SNI `name`: the handshake completes with the certificate
        of the server `target` names, which saw the client's address, not the router's; and
        passthru's line shows the original destination and the target."""
        cn, peer = self.s_client(server, name)
        self.assertEqual(cn, name)
        self.assertRegex(peer, rf"^{client}$")
        shown = f"[{server}]:443" if ":" in server else f"{server}:443"
        self.log_line(client, f"rule=\"SNI {name}\"", f"dst={shown}", f"target={target}", "end=done")

    def test_sni_to_the_original_destination_from_the_client_address(self):
        self.assert_tls_through(SERVER4, "a.example", f"{SERVER4}:443")

    def test_another_sni_to_another_backend_from_the_client_address(self):
        self.assert_tls_through(SERVER4, "b.example", f"{SERVER4B}:8443")

    def test_original_with_another_port(self):
        self.assert_tls_through(SERVER4, "c.example", f"{SERVER4}:8443")

    def test_client_port_keeps_the_client_address_and_port(self):
        for client, server in ((CLIENT4, SERVER4), (CLIENT6, SERVER6)):
            with self.subTest(server):
                local, reply = self.connect(self.topology.client, server, 7000, b"hello\n")
                self.assertIsNotNone(local, reply)
                self.assertIn(f"peer={local}\n", reply)  # address and port, both the client's own
                shown = f"[{server}]:7000" if ":" in server else f"{server}:7000"
                self.log_line(re.escape(local), "rule=CATCHALL", f"dst={shown}", f"target={shown}", "end=done")

    def test_ipv6_sni_to_the_original_destination_from_the_client_address(self):
        self.assert_tls_through(SERVER6, "a.example", f"[{SERVER6}]:443", client=FROM_CLIENT6)

    def test_send_proxy_names_the_original_destination(self):
        local, reply = self.connect(self.topology.client, SERVER4, 443, client_hello("p.example"))
        self.assertIsNotNone(local, reply)
        client_ip, client_port = local.rsplit(":", 1)
        # PROXY v1: protocol, source and destination addresses, source and destination ports (§2.1)
        self.assertIn(f"PROXY TCP4 {client_ip} {SERVER4} {client_port} 443\n", reply)  # (\r\n read as text)
        self.assertIn("peer=203.0.113.1:", reply)  # no source option: from the router's own address

    def test_a_client_on_passthru_own_host_with_client_port_ends_with_source_refused(self):
        # The same-host limitation: the client's own socket holds the address and port that
        # client_port would connect from. (Connecting to the listener directly: not diverted.)
        local, reply = self.connect(self.topology.router, "198.51.100.1", self.passthru.ports[0],
                                    client_hello("d.example"))
        self.assertIsNotNone(local, reply)
        self.assertNotIn("peer=", reply)
        self.log_line(re.escape(local), 'rule="SNI d.example"', "end=source_refused", "error=EADDRINUSE")

    def test_a_client_that_reaches_the_listener_directly_is_not_sent_to_it_again(self):
        # Not diverted: the original destination is passthru's own listener, and ORIGINAL would
        # connect the connection to itself, again and again, until no descriptor is left.
        port = self.passthru.ports[0]
        local, reply = self.connect(self.topology.client, "198.51.100.1", port, client_hello("self.example"))
        self.assertIsNotNone(local, reply)
        self.assertNotIn("peer=", reply)
        self.log_line(re.escape(local), 'rule="SNI self.example"', f"dst=198.51.100.1:{port}", "end=loop")
        self.assertEqual(self.passthru.log().count('rule="SNI self.example"'), 1)  # one connection, not a chain


if __name__ == "__main__":
    unittest.main()
