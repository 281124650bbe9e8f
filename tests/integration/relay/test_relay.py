"""The relay with real sockets: every byte delivered both ways, half-close passed on in each
direction, backpressure bounding memory, resets passed on, backend failures handled, silent
clients routed at the deadline, and no descriptor left open afterwards."""

import hashlib
import os
import re
import socket
import struct
import sys
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import (Passthru, TcpServer, banner_handler, connect, echo_handler, record_handler,  # noqa: E402
                     recv_all, seconds, wait_until)


def catchall_config(port, extra=""):
    return f"""
[servers."127.0.0.1:0"]
timeout_ms = 300
connect_timeout_ms = 500
{extra}
[servers."127.0.0.1:0".TLS]
CATCHALL = {{ action = "REJECT" }}
[servers."127.0.0.1:0".CATCHALL]
CATCHALL = {{ action = "FORWARD", to_addr = "127.0.0.1:{port}" }}
"""


class Relay(unittest.TestCase):
    def test_non_tls_bytes_reach_the_server_catchall_intact(self):
        with TcpServer(record_handler) as backend, Passthru(catchall_config(backend.port)) as proxy:
            with connect(proxy.port) as s:
                s.sendall(b"HELLO plain protocol\r\n")
                s.shutdown(socket.SHUT_WR)
                self.assertEqual(recv_all(s).decode(), hashlib.sha256(b"HELLO plain protocol\r\n").hexdigest())
            proxy.wait_log(r"protocol=- rule=CATCHALL fallback=no_protocol .*end=done")

    def test_a_silent_client_is_forwarded_at_the_deadline_to_a_server_that_speaks_first(self):
        with TcpServer(banner_handler(b"220 mail.example ESMTP\r\n")) as backend, \
                Passthru(catchall_config(backend.port)) as proxy:
            with connect(proxy.port) as s:
                started = time.monotonic()
                self.assertEqual(s.recv(100), b"220 mail.example ESMTP\r\n")
                self.assertGreaterEqual(time.monotonic() - started, 0.25)  # timeout_ms = 300
                s.sendall(b"EHLO me\r\n")
                self.assertEqual(s.recv(100), b"EHLO me\r\n")
            proxy.wait_log(r"rule=CATCHALL fallback=timeout action=FORWARD")

    def test_a_multi_megabyte_transfer_arrives_intact_both_ways(self):
        payload = os.urandom(24 * 1024 * 1024)
        with TcpServer(echo_handler) as backend, Passthru(catchall_config(backend.port)) as proxy, \
                connect(proxy.port, timeout=60) as s:
            received = []
            reader = threading.Thread(target=lambda: received.append(recv_all(s)))
            reader.start()
            s.sendall(b"X" + payload)  # "X" is not TLS: the CATCHALL decides at once
            s.shutdown(socket.SHUT_WR)
            reader.join(seconds(60))
            self.assertEqual(hashlib.sha256(received[0]).hexdigest(), hashlib.sha256(b"X" + payload).hexdigest())
            lines = proxy.wait_log(r"bytes_up=(\d+) bytes_down=(\d+) .*end=done")
            self.assertEqual(lines[-1], (str(len(payload) + 1), str(len(payload) + 1)))

    def test_bulk_bytes_are_spliced_small_exchanges_copied(self):
        # /proc/PID/io counts what read() and write() moved; splice(2) moves pages inside the kernel.
        def io(pid):
            return {k: int(v) for k, v in (line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())}
        payload = os.urandom(16 * 1024 * 1024)
        with TcpServer(echo_handler) as backend, Passthru(catchall_config(backend.port)) as proxy:
            # A small exchange is copied: for a few small reads that costs less than a pipe.
            with connect(proxy.port, timeout=60) as s:
                before = io(proxy.pid)
                s.sendall(b"X" + b"small" * 100)
                s.shutdown(socket.SHUT_WR)
                self.assertEqual(recv_all(s), b"X" + b"small" * 100)
                proxy.wait_log(r"end=done")
                after = io(proxy.pid)
                # Read both ways: 501 bytes from the client (sniffed or relayed), 501 from the backend.
                self.assertGreaterEqual(after["rchar"] - before["rchar"], 2 * 501, "the echo was spliced")
            # Bulk is spliced: after the first full read of each direction, nothing is copied.
            with connect(proxy.port, timeout=60) as s:
                before = io(proxy.pid)
                received = []
                reader = threading.Thread(target=lambda: received.append(recv_all(s)))
                reader.start()
                s.sendall(b"X" + payload)
                s.shutdown(socket.SHUT_WR)
                reader.join(seconds(60))
                self.assertEqual(hashlib.sha256(received[0]).digest(), hashlib.sha256(b"X" + payload).digest())
                wait_until(lambda: proxy.log().count("end=done") == 2, seconds(5), "the second connection to end")
                after = io(proxy.pid)
            # 32 MiB relayed; only the reads up to a full 64 KiB one in each direction, the
            # sniffed first bytes and log lines were read or written.
            self.assertLess(after["rchar"] - before["rchar"], 1024 * 1024)
            self.assertLess(after["wchar"] - before["wchar"], 1024 * 1024)

    def test_with_no_pipe_to_spare_relays_copy_and_lose_nothing(self):
        # With 128 descriptors a worker makes at most 16 pipes. 24 clients each send 8 MiB to a
        # backend that reads only after a second and a half, more than the sockets' buffers hold,
        # so each relay holds what it read meanwhile: past 16, they must copy through buffers.
        def late_reader(server, conn):
            time.sleep(1.5)
            record_handler(server, conn)

        def bytes_read():  # by read(2): the copying relays; splice(2) is not counted
            return int(re.search(r"rchar: (\d+)", Path(f"/proc/{proxy.pid}/io").read_text()).group(1))
        payloads = [b"X" + os.urandom(8 * 1024 * 1024) for _ in range(24)]
        answers = [None] * len(payloads)

        def client(i):
            with connect(proxy.port, timeout=60) as s:
                s.sendall(payloads[i])
                s.shutdown(socket.SHUT_WR)
                answers[i] = recv_all(s)
        with TcpServer(late_reader, backlog=64) as backend, \
                Passthru(catchall_config(backend.port), workers=1, wrapper=["prlimit", "--nofile=128:128"]) as proxy:
            pipes_before, read_before = proxy.pipe_fd_count(), bytes_read()
            threads = [threading.Thread(target=client, args=(i,)) for i in range(len(payloads))]
            for t in threads:
                t.start()
            time.sleep(1)
            self.assertLessEqual(proxy.pipe_fd_count() - pipes_before, 2 * 16, "more than 16 pipes")
            for t in threads:
                t.join(seconds(60))
            self.assertEqual(answers, [hashlib.sha256(p).hexdigest().encode() for p in payloads])
            self.assertGreater(bytes_read() - read_before, 4 * 1024 * 1024, "no relay copied: the pipes sufficed")

    def test_the_open_files_limit_is_raised_to_the_hard_limit(self):
        # Where the soft limit is 1,024, passthru would otherwise refuse clients past ~500.
        with TcpServer(echo_handler) as backend, \
                Passthru(catchall_config(backend.port), wrapper=["prlimit", "--nofile=256:4096"]) as proxy:
            limits = Path(f"/proc/{proxy.pid}/limits").read_text()
            self.assertRegex(limits, r"Max open files\s+4096\s+4096")

    def test_the_client_half_closing_still_gets_the_whole_answer(self):
        # The backend answers only after the client's EOF: the FIN must reach it, and the answer
        # must still come back on the half-open connection.
        with TcpServer(record_handler) as backend, Passthru(catchall_config(backend.port)) as proxy, \
                connect(proxy.port) as s:
            s.sendall(b"request body" * 1000)
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(recv_all(s).decode(), hashlib.sha256(b"request body" * 1000).hexdigest())

    def test_the_backend_half_closing_still_gets_the_clients_bytes(self):
        def answer_first(server, conn):
            conn.sendall(b"banner then EOF")
            conn.shutdown(socket.SHUT_WR)
            server.received.append(recv_all(conn))
        with TcpServer(answer_first) as backend, Passthru(catchall_config(backend.port)) as proxy, \
                connect(proxy.port) as s:
            s.sendall(b"Z")
            self.assertEqual(recv_all(s), b"banner then EOF")  # EOF passed on to the client
            s.sendall(b"after the backend's FIN")
            s.shutdown(socket.SHUT_WR)
            wait_until(lambda: backend.received, 5, "the backend to read to EOF")
            self.assertEqual(backend.received[0], b"Zafter the backend's FIN")

    def test_a_backend_that_does_not_read_stops_reads_from_the_client(self):
        stall = threading.Event()

        def never_read(server, conn):
            stall.wait(seconds(30))
        with TcpServer(never_read) as backend, Passthru(catchall_config(backend.port)) as proxy, \
                connect(proxy.port) as s:
            s.setblocking(False)
            sent = 0
            chunk = b"B" * 65536
            deadline = time.monotonic() + seconds(10)
            rss_before = proxy.rss_kib()
            while time.monotonic() < deadline and sent < 256 * 1024 * 1024:
                try:
                    sent += s.send(chunk)
                except BlockingIOError:
                    time.sleep(0.05)
                    try:
                        sent += s.send(chunk)
                    except BlockingIOError:
                        break  # every buffer on the way is full: passthru stopped reading
            stall.set()
            self.assertLess(sent, 64 * 1024 * 1024, "passthru kept reading from the client")
            self.assertLess(proxy.rss_kib() - rss_before, 8 * 1024, "passthru buffered what it could not send")

    def test_a_backend_reset_is_passed_on_to_the_client(self):
        def reset(server, conn):
            conn.recv(10)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with TcpServer(reset) as backend, Passthru(catchall_config(backend.port)) as proxy, \
                connect(proxy.port) as s:
            s.sendall(b"hello")
            with self.assertRaises(ConnectionResetError):
                recv_all(s)
            proxy.wait_log(r"end=backend_reset")

    def test_a_client_reset_is_passed_on_to_the_backend(self):
        outcome = []

        def wait_for_reset(server, conn):
            try:
                recv_all(conn)
                outcome.append("eof")
            except ConnectionResetError:
                outcome.append("reset")
        with TcpServer(wait_for_reset) as backend, Passthru(catchall_config(backend.port)) as proxy:
            s = connect(proxy.port)
            s.sendall(b"hello")
            time.sleep(0.2)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
            wait_until(lambda: outcome, 5, "the backend to see the end")
            self.assertEqual(outcome, ["reset"])
            proxy.wait_log(r"end=client_reset")

    def test_ipv6_listener_and_backend(self):
        with TcpServer(record_handler, host="::1") as backend, Passthru(f"""
[servers."[::1]:0"]
[servers."[::1]:0".CATCHALL]
CATCHALL = {{ action = "FORWARD", to_addr = "[::1]:{backend.port}" }}
""") as proxy, connect(proxy.port, host="::1") as s:
            s.sendall(b"over IPv6")
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(recv_all(s).decode(), hashlib.sha256(b"over IPv6").hexdigest())
            proxy.wait_log(r"client=\[::1\]:\d+ listener=\[::1\]:\d+ .*target=\[::1\]:\d+")

    def test_a_refusing_backend_closes_the_client_and_says_why(self):
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        closed.close()  # nothing listens on this port
        with Passthru(catchall_config(port)) as proxy, connect(proxy.port) as s:
            s.sendall(b"hello")
            self.assertEqual(recv_all(s), b"")
            proxy.wait_log(r"end=connect_failed error=ECONNREFUSED")

    def test_a_backend_that_never_accepts_times_out(self):
        # A listener with a full accept queue drops further SYNs: connecting hangs.
        full = socket.socket()
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        fillers = []
        for _ in range(4):
            f = socket.socket()
            f.setblocking(False)
            f.connect_ex(full.getsockname())
            fillers.append(f)
        time.sleep(0.1)
        try:
            with Passthru(catchall_config(full.getsockname()[1])) as proxy, connect(proxy.port) as s:
                s.sendall(b"hello")
                self.assertEqual(recv_all(s), b"")
                proxy.wait_log(r"end=connect_timeout error=ETIMEDOUT")
        finally:
            for f in fillers:
                f.close()
            full.close()

    def test_no_server_catchall_means_the_connection_is_closed(self):
        with Passthru("""
[servers."127.0.0.1:0"]
[servers."127.0.0.1:0".TLS]
CATCHALL = { action = "REJECT" }
""") as proxy, connect(proxy.port) as s:
            s.sendall(b"not tls")
            self.assertEqual(recv_all(s), b"")
            proxy.wait_log(r"fallback=no_protocol action=REJECT .*end=no_route")

    def test_no_descriptor_is_left_open_after_many_connections(self):
        with TcpServer(echo_handler, backlog=256) as backend, \
                Passthru(catchall_config(backend.port), workers=2) as proxy:
            time.sleep(0.2)
            before = proxy.fd_count()
            errors = []

            def client(n):
                for i in range(50):
                    try:
                        with connect(proxy.port) as s:
                            s.sendall(b"ping %d %d" % (n, i))
                            s.shutdown(socket.SHUT_WR)
                            if recv_all(s) != b"ping %d %d" % (n, i):
                                errors.append("bad echo")
                    except OSError as e:
                        errors.append(str(e))
            threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(seconds(60))
            # Also connections that end every other way: rejected, reset, silent, half-sent.
            for _ in range(20):
                s = connect(proxy.port)
                s.sendall(b"\x16\x03\x01\x00\x05\x01")
                s.close()
            self.assertEqual(errors, [])
            wait_until(lambda: proxy.fd_count() == before, 5, f"fd count to return to {before}")
            self.assertLessEqual(proxy.pipe_fd_count(), 2 * proxy.PIPES_KEPT_PER_WORKER * 2)

    def test_a_client_that_sends_and_closes_before_the_reply_is_no_error(self):
        # A client sends its request and closes its socket without reading the reply (a fire and
        # forget notification, a health check). The backend's reply then meets a closed socket:
        # that ends the exchange as the client chose (client_closed), and must not be counted as
        # a client error. A reply that reached the client before its close makes its kernel send
        # a reset instead of a FIN: that is logged as what it is, client_reset.
        def reply_then_close(server, conn):
            conn.recv(65536)
            try:
                conn.sendall(b"reply " * 100)
            except OSError:
                pass
        with TcpServer(reply_then_close, backlog=128) as backend, Passthru(catchall_config(backend.port)) as proxy:
            for i in range(300):
                with connect(proxy.port) as s:
                    s.sendall(b"notify %d\r\n" % i)
                if i % 20 == 19:  # in bursts the backend's accept thread keeps up with
                    wait_until(lambda: len(re.findall(r"end=", proxy.log())) == i + 1, 10, "the burst to end")
            ends = re.findall(r"end=(\w+)", proxy.log())
            self.assertEqual(sorted(set(ends) - {"done", "client_closed", "client_reset"}), [], proxy.log()[-2000:])


if __name__ == "__main__":
    unittest.main()
