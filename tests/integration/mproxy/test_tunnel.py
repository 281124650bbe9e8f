"""passthru as an M-PROXY tunnel endpoint (DEMUX), driven by a client built on the reference
proxy-packer: one tunnel carrying 20 concurrent streams to 3 backends (TLS by SNI, HTTP by Host,
plain TCP by the stream's name), each moving megabytes both ways. Every byte arrives, every
stream ends, and passthru's descriptors return to where they were. Plus: data for an unknown
stream gets E_NO_CONN, and a protocol error closes the tunnel."""

import json
import os
import socket
import subprocess
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import SOURCE, Passthru, TcpServer, connect, recv_all, seconds, wait_until  # noqa: E402

HERE = Path(__file__).resolve().parent
HELLO = SOURCE / "plugins/tls/tests/vectors/openssl-3.0-s_client.bin"  # SNI hello.example.test


def tagged_echo(tag):
    """Says which backend it is, then echoes until EOF, then closes."""
    def handler(server, conn):
        conn.sendall(tag + b"\n")
        while True:
            data = conn.recv(65536)
            if not data:
                break
            conn.sendall(data)
    return handler


def frame(header, body=b""):
    return bytes([0xFE, len(header)]) + header + body


def chargen(server, conn):
    """Sends without end, as fast as the connection takes it."""
    block = b"c" * 65536
    while True:
        conn.sendall(block)


def never_reads(server, conn):
    """Takes nothing for 2 s, then closes. (While a stream's backend takes nothing, its tunnel
    stops reading: it sees its client leave only once that backend reads or goes.)"""
    time.sleep(2)


def receive_for(s, duration):
    """Bytes received in `duration` seconds (the socket is left open)."""
    s.settimeout(0.05)
    got = 0
    end = time.monotonic() + duration
    while time.monotonic() < end:
        try:
            data = s.recv(1 << 20)
        except socket.timeout:
            continue
        if not data:
            break
        got += len(data)
    return got


class Tunnel(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.backends = {tag: TcpServer(tagged_echo(tag.encode()), backlog=64) for tag in ("tls", "http", "plain")}
        cls.backends["chargen"] = TcpServer(chargen)
        cls.backends["sink"] = TcpServer(never_reads)
        p = {tag: b.port for tag, b in cls.backends.items()}
        cls.proxy = Passthru(f"""
[servers."127.0.0.1:0"]
[servers."127.0.0.1:0".MPROXY]
"NAME plain.example" = {{ action = "FORWARD", to_addr = "127.0.0.1:{p['plain']}" }}
"NAME chargen.example" = {{ action = "FORWARD", to_addr = "127.0.0.1:{p['chargen']}" }}
"NAME sink.example"  = {{ action = "FORWARD", to_addr = "127.0.0.1:{p['sink']}" }}
CATCHALL             = {{ action = "DEMUX", max_streams = 64, max_stream_buffer = 262144 }}
[servers."127.0.0.1:0".TLS]
"SNI hello.example.test" = {{ action = "FORWARD", to_addr = "127.0.0.1:{p['tls']}" }}
[servers."127.0.0.1:0".HTTP]
"HOST web.example" = {{ action = "FORWARD", to_addr = "127.0.0.1:{p['http']}" }}
[servers."127.0.0.1:0".CATCHALL]
CATCHALL = {{ action = "REJECT" }}
""")
        time.sleep(0.2)
        cls.fds = cls.proxy.fd_count()

    @classmethod
    def tearDownClass(cls):
        code = cls.proxy.stop()
        for b in cls.backends.values():
            b.close()
        assert code == 0, cls.proxy.log()

    def test_twenty_streams_to_three_backends_move_every_byte_both_ways(self):
        r = subprocess.run(["node", HERE / "tunnel_client.js", str(self.proxy.port), "20", str(2 * 1024 * 1024), HELLO],
                           capture_output=True, text=True, timeout=seconds(180), cwd=HERE,
                           env={**os.environ, "TUNNEL_TIMEOUT_MS": str(int(seconds(120) * 1000))})
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr + self.proxy.log()[-3000:])
        summary = json.loads(r.stdout.strip().splitlines()[-1])
        self.assertEqual(summary["failures"], [])
        self.assertGreater(summary["bytes_each_way"], 20 * 2 * 1024 * 1024)
        log = self.proxy.wait_log(r"protocol=MPROXY rule=\"CATCHALL\"[^\n]*action=DEMUX streams=20[^\n]*end=done")
        self.assertTrue(log)
        self.assertEqual(len(self.proxy.wait_log(r"stream=IPv4,10\.9\.0\.\d+,\d+ protocol=TLS[^\n]*end=done")), 7)
        self.assertEqual(len(self.proxy.wait_log(r"stream=IPv4,10\.9\.0\.\d+,\d+ protocol=HTTP[^\n]*end=done")), 7)
        self.assertEqual(len(self.proxy.wait_log(r"stream=IPv4,10\.9\.0\.\d+,\d+ protocol=MPROXY rule=\"NAME plain\.example\"[^\n]*end=done")), 6)

    def test_data_for_an_unknown_stream_gets_e_no_conn(self):
        with connect(self.proxy.port) as s:
            s.sendall(frame(b",,,2,control", b"[]") + frame(b"IPv4,10.1.1.1,5000,5,tcp,443,x", b"hello"))
            s.settimeout(seconds(5))
            answer = s.recv(4096)
        self.assertIn(b",error,", answer)
        self.assertIn(b"E_NO_CONN", answer)

    def test_a_protocol_error_closes_the_tunnel_and_its_streams(self):
        with connect(self.proxy.port) as s:
            s.sendall(frame(b",,,2,control", b"[]") + frame(b"IPv4,10.1.1.2,5000,0,connection,443,plain.example,tcp"))
            s.sendall(frame(b"IPv4,10.1.1.2,5000,abc,tcp,443,plain.example"))  # a datalen that is no number
            s.settimeout(seconds(5))
            try:
                recv_all(s)  # the tunnel is closed
            except ConnectionResetError:
                pass  # also closed: the kernel resets when our unread bytes are still queued
        self.proxy.wait_log(r'end=protocol_error protocol_error="datalen \'abc\'')

    def test_pause_and_resume_stop_and_restart_one_streams_backend(self):
        meta = b"IPv4,10.2.2.2,6000,%d,%s,443,chargen.example"
        with connect(self.proxy.port) as s:
            s.sendall(frame(b",,,2,control", b"[]") + frame(meta % (0, b"connection") + b",tcp") + frame(meta % (1, b"tcp"), b"x"))
            self.assertGreater(receive_for(s, 0.5), 1 << 20)  # the backend's bytes flow
            s.sendall(frame(meta % (0, b"pause")))
            receive_for(s, 0.5)  # what was already on its way
            self.assertLess(receive_for(s, 0.5), 256 * 1024)  # then (almost) nothing: the backend is not read
            s.sendall(frame(meta % (0, b"resume")))
            self.assertGreater(receive_for(s, 0.5), 1 << 20)

    def test_a_tunnel_that_is_not_read_stops_its_streams_without_buffering_them(self):
        meta = b"IPv4,10.3.3.3,7000,%d,%s,443,chargen.example"
        with connect(self.proxy.port) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            rss = self.proxy.rss_kib()
            s.sendall(frame(b",,,2,control", b"[]") + frame(meta % (0, b"connection") + b",tcp") + frame(meta % (1, b"tcp"), b"x"))
            time.sleep(seconds(2))  # the chargen backend would send gigabytes in this time
            self.assertLess(self.proxy.rss_kib() - rss, 16 * 1024, "passthru buffered what the tunnel could not take")
            self.assertGreater(receive_for(s, 0.3), 0)

    def test_a_stream_whose_backend_does_not_read_is_paused(self):
        meta = b"IPv4,10.4.4.4,8000,%d,%s,443,sink.example"
        block = b"s" * 65536
        with connect(self.proxy.port) as s:
            s.sendall(frame(b",,,2,control", b"[]") + frame(meta % (0, b"connection") + b",tcp"))
            rss = self.proxy.rss_kib()
            s.settimeout(0.01)
            answers = b""
            for _ in range(200):  # 12.5 MiB for a backend that takes none of it
                try:
                    s.sendall(frame(meta % (len(block), b"tcp"), block))
                except socket.timeout:
                    break  # passthru stopped reading the tunnel: it is full
                try:
                    answers += s.recv(65536)
                except socket.timeout:
                    pass
            self.assertIn(b",pause,", answers)  # we were asked to stop sending for it
            self.assertLess(self.proxy.rss_kib() - rss, 16 * 1024, "passthru buffered what the backend could not take")

    def test_zz_descriptors_return_to_where_they_were(self):
        wait_until(lambda: self.proxy.fd_count() == self.fds, 10, f"fd count to return to {self.fds}")


if __name__ == "__main__":
    unittest.main()
