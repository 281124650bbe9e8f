"""What a forwarded connection costs the backend in packets, read from the backend's own socket
(TCP_INFO): the last ACK of passthru's handshake leaves with the first bytes when there are
bytes to send at once, and never waits for them when there are none."""

import socket
import struct
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import (SOURCE, Passthru, TcpServer, banner_handler, connect, echo_handler, recv_exactly,  # noqa: E402
                     wait_until)

HELLO = (SOURCE / "plugins/tls/tests/vectors/openssl-3.0-s_client.bin").read_bytes()  # SNI hello.example.test
CONNECTIONS = 10
CONFIG = """
[servers."127.0.0.1:0"]
timeout_ms = 300
[servers."127.0.0.1:0".TLS]
"SNI hello.example.test" = {{ action = "FORWARD", to_addr = "127.0.0.1:{backend}"{extra} }}
[servers."127.0.0.1:0".CATCHALL]
CATCHALL = {{ action = "FORWARD", to_addr = "127.0.0.1:{backend}" }}
"""


def tcp_info(conn):
    """(segments received, smoothed round-trip time in µs) of a socket, from struct tcp_info."""
    info = conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    rtt_us = struct.unpack_from("I", info, 68)[0]  # tcpi_rtt
    segs_in = struct.unpack_from("I", info, 140)[0]  # tcpi_segs_in
    return segs_in, rtt_us


def hello_handler(server, conn):
    """Reads the whole hello, records what the socket had received by then, answers."""
    got = recv_exactly(conn, len(HELLO))
    server.received.append((got, tcp_info(conn)))
    conn.sendall(b"a" * 64)
    echo_handler(server, conn)


def timed_banner_handler(server, conn):
    """Records the socket's handshake round trip as it is accepted, then speaks first."""
    server.received.append(tcp_info(conn))
    banner_handler(b"220 mail.example ESMTP\r\n")(server, conn)


class Packets(unittest.TestCase):
    def exchange_hellos(self, extra=""):
        with TcpServer(hello_handler) as backend, \
                Passthru(CONFIG.format(backend=backend.port, extra=extra)) as proxy:
            for _ in range(CONNECTIONS):
                with connect(proxy.port) as s:
                    s.sendall(HELLO)
                    self.assertEqual(s.recv(64), b"a" * 64)
            wait_until(lambda: len(backend.received) == CONNECTIONS, 10, "every hello at the backend")
            for got, (segs_in, _) in backend.received:
                self.assertTrue(got.endswith(HELLO), got[:16])
                # The SYN, then one segment: the ACK of the SYN-ACK carrying the bytes (three when
                # the ACK goes alone).
                self.assertEqual(segs_in, 2)

    def test_the_first_bytes_carry_the_last_ack_of_the_handshake(self):
        self.exchange_hellos()

    def test_a_proxy_header_and_the_bytes_after_it_carry_it_too(self):
        self.exchange_hellos(', send_proxy = "v2"')

    def test_a_backend_that_speaks_first_is_accepted_at_once(self):
        # A silent client reaches the CATCHALL at the deadline with no byte to send: the ACK must
        # not wait for any (the kernel holds a delayed one back 200 ms, and the backend's
        # accept() with it), which the backend's socket shows as its handshake's round trip.
        with TcpServer(timed_banner_handler) as backend, Passthru(CONFIG.format(backend=backend.port, extra="")) as proxy:
            for _ in range(3):
                with connect(proxy.port) as s:
                    self.assertEqual(s.recv(100), b"220 mail.example ESMTP\r\n")
            wait_until(lambda: len(backend.received) == 3, 10, "three connections at the backend")
            round_trips_us = [rtt for _, rtt in backend.received]
            self.assertLess(min(round_trips_us), 100_000, round_trips_us)


if __name__ == "__main__":
    unittest.main()
