"""Relay timeouts with real peers: 200 relays left idle are all closed at idle_timeout_ms with
end=idle_timeout and passthru's descriptors come back to where they were; a half-closed relay
goes at half_closed_timeout_ms while its idle limit is far off; a relay that keeps talking
outlives its idle limit several times over; a rule's own max_lifetime_ms ends even a busy relay;
and an M-PROXY tunnel's stream is timed on its own, its tunnel staying open."""

import contextlib
import selectors
import socket
import sys
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import Passthru, TcpServer, connect, echo_handler, forward_all_config, seconds, wait_until  # noqa: E402


def ms(s):
    """A limit for the config: `s` seconds, scaled as every wait is."""
    return int(seconds(s) * 1000)


def holder(server, conn):
    """Takes what comes and never closes first: the relay's limits must do it."""
    while conn.recv(65536):
        pass
    time.sleep(3600)


@contextlib.contextmanager
def relay(handler, listener, rule=""):
    """passthru relaying one client (which has sent its first byte) to a backend running `handler`."""
    with TcpServer(handler) as backend, Passthru(forward_all_config(backend.port, listener, rule)) as proxy, \
            connect(proxy.port) as s:
        s.sendall(b"X")  # not TLS: the CATCHALL decides at once
        yield proxy, s


def wait_for_eof(sockets, timeout):
    """When each socket saw its EOF (or reset), by socket; those that did not are left out."""
    closed = {}
    with selectors.DefaultSelector() as selector:
        for s in sockets:
            s.setblocking(False)
            selector.register(s, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while len(closed) < len(sockets) and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.05):
                try:
                    data = key.fileobj.recv(65536)
                except ConnectionResetError:
                    data = b""
                if not data:
                    closed[key.fileobj] = time.monotonic()
                    selector.unregister(key.fileobj)
    return closed


class Timeouts(unittest.TestCase):
    def test_two_hundred_idle_relays_are_closed_at_the_idle_timeout_and_their_descriptors_freed(self):
        idle = ms(0.8)
        with TcpServer(holder, backlog=256) as backend, \
                Passthru(forward_all_config(backend.port, f"idle_timeout_ms = {idle}"), workers=2) as proxy:
            time.sleep(0.2)
            baseline = proxy.fd_count()
            clients, sent_at = [], {}
            for _ in range(200):
                s = connect(proxy.port)
                s.sendall(b"X")  # not TLS: the CATCHALL decides at once
                sent_at[s] = time.monotonic()
                clients.append(s)
            closed = wait_for_eof(clients, seconds(10) + idle / 1000)
            self.assertEqual(len(closed), 200, "relays still open past the idle timeout")
            earliest = min(closed[s] - sent_at[s] for s in clients)
            self.assertGreaterEqual(earliest, 0.9 * idle / 1000, "a relay was closed before its idle timeout")
            wait_until(lambda: len(proxy.log().split("end=idle_timeout")) - 1 == 200, 5, "200 idle_timeout lines")
            for s in clients:
                s.close()
            wait_until(lambda: proxy.fd_count() == baseline, 5, f"descriptors back to {baseline}")

    def test_a_half_closed_relay_goes_at_its_own_timeout_long_before_the_idle_one(self):
        half = ms(0.5)
        with relay(holder, f"idle_timeout_ms = {ms(30)}\nhalf_closed_timeout_ms = {half}") as (proxy, s):
            time.sleep(0.1)
            fin_at = time.monotonic()
            s.shutdown(socket.SHUT_WR)  # the backend never answers nor closes
            closed = wait_for_eof([s], seconds(10))
            self.assertIn(s, closed)
            self.assertGreaterEqual(closed[s] - fin_at, 0.9 * half / 1000)
            self.assertLess(closed[s] - fin_at, seconds(5))
            proxy.wait_log(r"end=half_closed_timeout")

    def test_a_relay_that_keeps_talking_is_not_cut_at_its_idle_timeout(self):
        idle = ms(0.4)
        with relay(echo_handler, f"idle_timeout_ms = {idle}") as (proxy, s):
            self.assertEqual(s.recv(10), b"X")
            talked_until = time.monotonic() + 5 * idle / 1000
            count = 0
            while time.monotonic() < talked_until:  # a byte every 100 ms, five idle limits long
                time.sleep(0.1)
                s.sendall(b"%d" % (count % 10))
                self.assertEqual(s.recv(10), b"%d" % (count % 10))
                count += 1
            self.assertGreaterEqual(count, 10)
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(s.recv(10), b"")  # the echo's own FIN: it ended as it should
            proxy.wait_log(r"end=done")
            self.assertNotIn("end=idle_timeout", proxy.log())

    def test_a_rules_own_lifetime_ends_a_busy_relay(self):
        lifetime = ms(0.7)
        with relay(echo_handler, f"idle_timeout_ms = {ms(30)}", f", max_lifetime_ms = {lifetime}") as (proxy, s):
            started = time.monotonic()
            s.settimeout(0.05)
            ended = None
            while ended is None and time.monotonic() - started < seconds(10):
                try:
                    s.sendall(b"y")
                    if not s.recv(10):
                        ended = time.monotonic()
                except socket.timeout:
                    pass
                except (BrokenPipeError, ConnectionResetError):
                    ended = time.monotonic()
                time.sleep(0.05)
            self.assertIsNotNone(ended, "the relay outlived max_lifetime_ms")
            self.assertGreaterEqual(ended - started, 0.9 * lifetime / 1000)
            proxy.wait_log(r"end=max_lifetime")


def frame(header, body=b""):
    """An M-PROXY message: 0xFE, the header's length, the header, the body."""
    return bytes([0xFE, len(header)]) + header + body


class TunnelStreamTimeouts(unittest.TestCase):
    def test_an_idle_stream_is_closed_on_its_own_and_its_tunnel_carries_the_next(self):
        idle = ms(0.5)
        with TcpServer(echo_handler) as backend, Passthru(f"""
[servers."127.0.0.1:0"]
[servers."127.0.0.1:0".MPROXY]
"NAME echo.example" = {{ action = "FORWARD", to_addr = "127.0.0.1:{backend.port}", idle_timeout_ms = {idle} }}
CATCHALL = {{ action = "DEMUX" }}
[servers."127.0.0.1:0".CATCHALL]
CATCHALL = {{ action = "REJECT" }}
""") as proxy, connect(proxy.port) as s:
            # meta: family, address, port, datalen, kind, service port, name
            meta = b"IPv4,10.5.5.%d,9000,%d,%s,443,echo.example"
            s.sendall(frame(b",,,2,control", b"[]") + frame(meta % (1, 0, b"connection") + b",tcp") +
                      frame(meta % (1, 2, b"tcp"), b"hi"))
            s.settimeout(seconds(5))
            answers = b""
            while b"E_TIMEOUT" not in answers:  # the echo, then, an idle limit later, the error
                data = s.recv(4096)
                self.assertTrue(data, "the tunnel closed")
                answers += data
            self.assertIn(b"idle_timeout", answers)
            proxy.wait_log(r"stream=IPv4,10\.5\.5\.1,9000 .*end=idle_timeout")
            # The tunnel itself is still open and routes a new stream.
            s.sendall(frame(meta % (2, 0, b"connection") + b",tcp") + frame(meta % (2, 5, b"tcp"), b"again"))
            answers = b""
            while b"again" not in answers:
                data = s.recv(4096)
                self.assertTrue(data, "the tunnel closed")
                answers += data


if __name__ == "__main__":
    unittest.main()
