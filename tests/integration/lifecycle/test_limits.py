"""Connection limits with real peers: past max_connections (a listener's, or the process's over
two listeners) and past max_connections_per_source (clients bound to 127.0.0.2 and 127.0.0.3,
and addresses a trusted PROXY header gives), exactly the excess is refused with a reset, the
connections already admitted go on relaying, one warning is logged per episode, and a
connection is admitted again once one ends."""

import socket
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import Passthru, TcpServer, connect, connect_from, echo_handler, forward_all_config, wait_until  # noqa: E402


def admitted(s):
    """Whether the relay behind `s` echoes (True) or passthru reset it at once (False)."""
    try:
        s.sendall(b"X")  # not TLS: the CATCHALL decides at once
        return s.recv(10) == b"X"
    except (ConnectionResetError, BrokenPipeError):
        return False


class Limits(unittest.TestCase):
    def setUp(self):
        self.backend = TcpServer(echo_handler, backlog=128)
        self.clients = []

    def tearDown(self):
        for s in self.clients:
            s.close()
        self.backend.close()

    def open(self, port, source=None, host="127.0.0.1"):
        """Whether a new relay is admitted (passthru's reset may come before connect() returns)."""
        try:
            s = connect_from(source, port) if source else connect(port, host=host)
        except ConnectionResetError:
            return False
        self.clients.append(s)
        return admitted(s)

    def test_past_a_listeners_max_connections_exactly_the_excess_is_reset(self):
        config = forward_all_config(self.backend.port, "max_connections = 5")
        with Passthru(config, workers=2) as proxy:
            self.assertEqual([self.open(proxy.port) for _ in range(8)], [True] * 5 + [False] * 3)
            for s in self.clients[:5]:  # the admitted ones are untouched
                s.sendall(b"still here")
                self.assertEqual(s.recv(100), b"still here")
            self.clients[0].close()  # one ends: room for one more
            wait_until(lambda: "end=" in proxy.log(), 5, "the first relay's end")
            self.assertTrue(self.open(proxy.port))
            self.assertFalse(self.open(proxy.port))
            warnings = [line for line in proxy.log().splitlines() if "refusing" in line]
            self.assertEqual(len(warnings), 1, proxy.log())
            self.assertIn("max_connections", warnings[0])

    def test_the_process_limit_counts_every_listener(self):
        config = ("max_connections = 4\n" + forward_all_config(self.backend.port) +
                  forward_all_config(self.backend.port, listen="127.0.0.2:0"))
        with Passthru(config, workers=2, listeners=2) as proxy:
            first, second = proxy.ports
            outcomes = [self.open(first), self.open(first), self.open(first)]
            outcomes += [self.open(second, host="127.0.0.2") for _ in range(3)]
            self.assertEqual(outcomes, [True, True, True, True, False, False])

    def test_max_connections_per_source_counts_each_client_address_apart(self):
        config = forward_all_config(self.backend.port, "max_connections_per_source = 3")
        with Passthru(config, workers=2) as proxy:
            self.assertEqual([self.open(proxy.port, "127.0.0.2") for _ in range(5)], [True] * 3 + [False] * 2)
            self.assertEqual([self.open(proxy.port, "127.0.0.3") for _ in range(3)], [True] * 3)
            self.assertFalse(self.open(proxy.port, "127.0.0.3"))

    def test_the_address_a_trusted_proxy_header_gives_is_the_source_counted(self):
        config = f"""
[servers."127.0.0.1:0"]
timeout_ms = 1000
max_connections_per_source = 2
[servers."127.0.0.1:0".PROXY]
"FROM 127.0.0.0/8" = {{ action = "UNWRAP" }}
[servers."127.0.0.1:0".CATCHALL]
CATCHALL = {{ action = "FORWARD", to_addr = "127.0.0.1:{self.backend.port}" }}
"""
        with Passthru(config) as proxy:
            outcomes = []
            for peer in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):  # three load balancers, one client behind them
                s = connect_from(peer, proxy.port)  # each peer is under its limit: admitted at accept
                self.clients.append(s)
                # PROXY v1 (proxy-protocol.txt §2.1): signature, family, source, destination, ports
                s.sendall(b"PROXY TCP4 10.9.9.9 127.0.0.1 5555 443\r\n")
                outcomes.append(admitted(s))
            self.assertEqual(outcomes, [True, True, False])
            proxy.wait_log(r"client=10\.9\.9\.9:5555 via=127\.0\.0\.4:\d+ .*end=source_limit")


if __name__ == "__main__":
    unittest.main()
