"""Stopping with SIGTERM drains: the listening port refuses new clients at once, while 50 live
relays finish their transfers with every byte and passthru then exits 0; with a short
drain_timeout_ms, the relays still open at the deadline are closed (end=shutdown) and it exits
0; and a second signal during the drain closes everything at once."""

import hashlib
import os
import re
import signal
import socket
import sys
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import Passthru, TcpServer, connect, forward_all_config, seconds, wait_until  # noqa: E402

PAYLOAD = 256 * 1024


def slow_answer(server, conn):
    """On a request, answers PAYLOAD bytes in 16 pieces over about 1.6 s, then closes."""
    conn.recv(100)
    server.received.append(True)
    for i in range(16):
        conn.sendall(bytes([i]) * (PAYLOAD // 16))
        time.sleep(0.1)


def holder(server, conn):
    """Takes what comes, counting connections that brought a byte, and never closes first."""
    if conn.recv(65536):
        server.received.append(True)
    while conn.recv(65536):
        pass
    time.sleep(3600)


def refuses(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except ConnectionRefusedError:
        return True
    except ConnectionResetError:
        return False  # it reached the listen queue just before the socket closed


def receive_all(s, into, index):
    """Reads to the end, then closes, as a client done with its answer does."""
    chunks = []
    try:
        while True:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
    except OSError:
        pass
    s.close()
    into[index] = b"".join(chunks)


class Drain(unittest.TestCase):
    def start_relays(self, proxy, count):
        clients = []
        for _ in range(count):
            s = connect(proxy.port)
            s.sendall(b"X")  # not TLS: the CATCHALL decides at once
            clients.append(s)
        return clients

    def stop_signal(self, proxy):
        os.kill(proxy.pid, signal.SIGTERM)

    def ended(self, proxy, timeout):
        """Waits for passthru to exit by itself: its exit status and log."""
        code = proxy.process.wait(timeout=seconds(timeout))
        log = proxy.log()
        proxy.stop()
        proxy.dir.cleanup()
        self.assertNotIn("ERROR: AddressSanitizer", log)
        self.assertNotIn("runtime error:", log)
        return code, log

    def test_sigterm_refuses_new_clients_at_once_and_lets_fifty_transfers_finish(self):
        expected = b"".join(bytes([i]) * (PAYLOAD // 16) for i in range(16))
        with TcpServer(slow_answer, backlog=128) as backend:
            proxy = Passthru("drain_timeout_ms = 30000\n" + forward_all_config(backend.port), workers=2)
            clients = self.start_relays(proxy, 50)
            received = [None] * 50
            readers = [threading.Thread(target=receive_all, args=(s, received, i)) for i, s in enumerate(clients)]
            for reader in readers:
                reader.start()
            wait_until(lambda: len(backend.received) == 50, 5, "every transfer under way")
            signalled = time.monotonic()
            self.stop_signal(proxy)
            wait_until(lambda: refuses(proxy.port), 1, "the port to refuse new clients")
            refused_after = time.monotonic() - signalled
            for reader in readers:
                reader.join(seconds(20))
            code, log = self.ended(proxy, 10)
            self.assertEqual(code, 0, log[-2000:])
            self.assertLess(refused_after, seconds(1))
            self.assertEqual([hashlib.sha256(r).hexdigest() for r in received],
                             [hashlib.sha256(expected).hexdigest()] * 50)
            # (a probe that reached the listen queue just before it closed has fallback=client_eof)
            self.assertEqual(len(re.findall(r"fallback=no_protocol .*end=done", log)), 50, log[-2000:])
            self.assertNotIn("end=shutdown", log)

    def test_relays_still_open_at_the_drain_deadline_are_closed_and_passthru_exits_0(self):
        drain = seconds(0.5)
        with TcpServer(holder) as backend:
            proxy = Passthru(f"drain_timeout_ms = {int(drain * 1000)}\n" + forward_all_config(backend.port), workers=2)
            clients = self.start_relays(proxy, 10)
            wait_until(lambda: len(backend.received) == 10, 5, "10 relays open")
            signalled = time.monotonic()
            self.stop_signal(proxy)
            code, log = self.ended(proxy, 10)
            took = time.monotonic() - signalled
            for s in clients:
                s.settimeout(seconds(2))
                self.assertEqual(s.recv(10), b"")  # closed by passthru
                s.close()
            self.assertEqual(code, 0, log[-2000:])
            self.assertGreaterEqual(took, 0.9 * drain)
            self.assertLess(took, drain + seconds(3))
            self.assertEqual(log.count("end=shutdown"), 10, log[-2000:])

    def test_a_second_signal_during_the_drain_closes_everything_at_once(self):
        with TcpServer(holder) as backend:
            proxy = Passthru("drain_timeout_ms = 600000\n" + forward_all_config(backend.port), workers=2)
            clients = self.start_relays(proxy, 5)
            wait_until(lambda: len(backend.received) == 5, 5, "5 relays open")
            self.stop_signal(proxy)
            time.sleep(0.2)
            self.assertIsNone(proxy.process.poll())  # draining: the relays may finish
            self.stop_signal(proxy)
            code, log = self.ended(proxy, 3)
            for s in clients:
                s.close()
            self.assertEqual(code, 0, log[-2000:])
            self.assertEqual(log.count("end=shutdown"), 5, log[-2000:])


if __name__ == "__main__":
    unittest.main()
