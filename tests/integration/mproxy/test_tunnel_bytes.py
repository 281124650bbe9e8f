"""What passthru does with the bytes of M-PROXY tunnel streams (DEMUX): bulk bodies are spliced
both ways, never copied through passthru's memory, as a plain relay's are; and how a stream's end
is told when its tunnel ends: cleanly (tunnel_closed, not shutdown) or by a reset (client_reset)."""

import hashlib
import os
import socket
import struct
import sys
import threading
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import Passthru, TcpServer, connect, echo_handler, seconds, wait_until  # noqa: E402

STREAM = b"IPv4,10.7.0.1,5000"  # family, address, port: the stream's client


def frame(header, body=b""):
    # 0xFE (M-PROXY v1), the header's length, the header, the body
    return bytes([0xFE, len(header)]) + header + body


def opening(name):
    return (frame(b",,,2,control", b"[]") +  # the relay's hello: an empty command list
            frame(STREAM + b",0,connection,443," + name + b",tcp"))  # the stream opens


def data(body, name):
    return frame(STREAM + b",%d,tcp,443," % len(body) + name, body)


def read_messages(s, until):
    """Reads messages from the tunnel until until(kind, body_so_far) says stop; returns the data
    bodies joined and the kinds seen."""
    buffer, bodies, kinds = b"", [], []
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        buffer += chunk
        while len(buffer) >= 2 and len(buffer) >= 2 + buffer[1]:
            fields = buffer[2:2 + buffer[1]].split(b",")
            length = int(fields[3])
            if len(buffer) < 2 + buffer[1] + length:
                break
            kind = fields[4] if fields[4] in (b"end", b"error", b"pause", b"resume") else b"data"
            kinds.append(kind)
            if kind == b"data":
                bodies.append(buffer[2 + buffer[1]:2 + buffer[1] + length])
            buffer = buffer[2 + buffer[1] + length:]
        if until(kinds, bodies):
            break
    return b"".join(bodies), kinds


def io(pid):
    # /proc/PID/io counts what read() and write() moved; splice(2) moves pages inside the kernel.
    return {k: int(v) for k, v in (line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())}


def config(port):
    return f"""
[servers."127.0.0.1:0"]
[servers."127.0.0.1:0".MPROXY]
"NAME echo.example" = {{ action = "FORWARD", to_addr = "127.0.0.1:{port}" }}
CATCHALL = {{ action = "DEMUX" }}
"""


class TunnelBytes(unittest.TestCase):
    def test_bulk_bodies_are_spliced_both_ways_not_copied(self):
        payload = os.urandom(16 * 1024 * 1024)
        with TcpServer(echo_handler) as backend, Passthru(config(backend.port)) as proxy, \
                connect(proxy.port, timeout=60) as s:
            s.sendall(opening(b"echo.example") + data(b"first bytes", b"echo.example"))
            got, _ = read_messages(s, lambda kinds, bodies: sum(map(len, bodies)) >= 11)
            self.assertEqual(got, b"first bytes")
            before = io(proxy.pid)
            received = []
            reader = threading.Thread(target=lambda: received.append(
                read_messages(s, lambda kinds, bodies: sum(map(len, bodies)) >= len(payload))[0]))
            reader.start()
            for at in range(0, len(payload), 256 * 1024):  # 64 messages of 256 KiB
                s.sendall(data(payload[at:at + 256 * 1024], b"echo.example"))
            reader.join(seconds(60))
            after = io(proxy.pid)
            self.assertEqual(hashlib.sha256(received[0]).digest(), hashlib.sha256(payload).digest())
        # 32 MiB through the tunnel; the message headers, the first reads of each direction and
        # the log lines were read or written, little else.
        self.assertLess(after["rchar"] - before["rchar"], 2 * 1024 * 1024)
        self.assertLess(after["wchar"] - before["wchar"], 2 * 1024 * 1024)

    def test_a_tunnel_closed_cleanly_ends_its_open_streams_as_tunnel_closed(self):
        with TcpServer(echo_handler) as backend, Passthru(config(backend.port)) as proxy:
            with connect(proxy.port) as s:
                s.sendall(opening(b"echo.example") + data(b"hello", b"echo.example"))
                got, _ = read_messages(s, lambda kinds, bodies: b"".join(bodies) == b"hello")
                self.assertEqual(got, b"hello")
            # The stream was still open when its tunnel's client closed: not a stop of passthru.
            proxy.wait_log(r"stream=IPv4,10\.7\.0\.1,5000 [^\n]*end=tunnel_closed")
            proxy.wait_log(r"action=DEMUX streams=1 [^\n]*end=done")
            self.assertNotIn("end=shutdown", proxy.log())

    def test_a_tunnel_reset_while_passthru_writes_to_it_ends_as_client_reset(self):
        def chargen(server, conn):
            block = b"c" * 65536
            try:
                while True:
                    conn.sendall(block)
            except OSError:
                pass
        with TcpServer(chargen) as backend, Passthru(config(backend.port)) as proxy:
            s = connect(proxy.port)
            s.sendall(opening(b"echo.example") + data(b"x", b"echo.example"))
            s.recv(65536)  # the stream's bytes flow
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()  # a reset, with passthru's writes on their way
            proxy.wait_log(r"action=DEMUX streams=1 [^\n]*end=client_reset error=E(CONNRESET|PIPE)")
            proxy.wait_log(r"stream=IPv4,10\.7\.0\.1,5000 [^\n]*end=tunnel_closed")
            fds = proxy.fd_count()
            wait_until(lambda: proxy.fd_count() <= fds, 5, "descriptors to be closed")


if __name__ == "__main__":
    unittest.main()
