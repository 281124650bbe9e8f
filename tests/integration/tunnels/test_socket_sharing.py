"""Socket sharing's destinations: the far end's FORWARD with to_addr = "STREAM" dials each
stream's own name:serviceport, only for names its allow-list holds (else E_NOT_ALLOWED, and
nothing is dialled); the near end's bypass list sends a MUX connection straight to its
destination instead of through the tunnel. Destinations are loopback addresses (127.0.0.2,
127.0.0.3, 127.0.0.4) listening on the port the near listener has, as the destination port a
socket-sharing device intercepts."""

import socket
import sys
import threading
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import Passthru, client_hello, connect, free_port, recv_all, seconds  # noqa: E402


class Destination:
    """Echoes on ADDRESS:PORT and remembers who connected."""

    def __init__(self, address, port):
        self.peers = []
        self.sock = socket.create_server((address, port))
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            self.peers.append(peer)
            with conn:
                data = conn.recv(65536)
                conn.sendall(b"from " + self.sock.getsockname()[0].encode() + b": " + data)

    def close(self):
        self.sock.close()


class SocketSharing(unittest.TestCase):
    def test_stream_destinations_follow_the_allow_list_and_bypass_goes_direct(self):
        port = free_port()
        allowed, denied, bypassed = (Destination(a, port) for a in ("127.0.0.2", "127.0.0.3", "127.0.0.4"))
        try:
            with Passthru(f"""
[servers."127.0.0.1:0"]
[servers."127.0.0.1:0".MPROXY]
CATCHALL = {{ action = "DEMUX" }}
[servers."127.0.0.1:0".CATCHALL]
CATCHALL = {{ action = "FORWARD", to_addr = "STREAM", allow = ["127.0.0.2/32", ".example.test"] }}
""") as far, Passthru(f"""
[tunnels.share]
connect = "127.0.0.1:{far.port}"
bypass = ["127.0.0.4", "10.0.0.0/8", ".intranet.test"]
[servers."127.0.0.1:{port}"]
[servers."127.0.0.1:{port}".HTTP]
"HOST 127.0.0.2" = {{ action = "MUX", tunnel = "share" }}
"HOST 127.0.0.3" = {{ action = "MUX", tunnel = "share" }}
"HOST 127.0.0.4" = {{ action = "MUX", tunnel = "share" }}
""", workers=1) as near:
                def ask(host):
                    with connect(port) as s:
                        s.sendall(b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
                        s.settimeout(seconds(5))
                        try:
                            return recv_all(s)
                        except ConnectionResetError:
                            return b""

                self.assertTrue(ask(b"127.0.0.2").startswith(b"from 127.0.0.2: GET / HTTP/1.1"))
                self.assertEqual(ask(b"127.0.0.3"), b"")
                self.assertTrue(ask(b"127.0.0.4").startswith(b"from 127.0.0.4: GET / HTTP/1.1"))
                far.wait_log(r"stream=IPv4,127\.0\.0\.1,\d+ protocol=- rule=CATCHALL fallback=no_protocol "
                             r"action=FORWARD target=STREAM bytes_up=\d+ bytes_down=[1-9]\d* [^\n]*end=done")
                far.wait_log(r"action=FORWARD target=STREAM bytes_up=\d+ bytes_down=0 [^\n]*end=rejected")
                near.wait_log(rf"host=127\.0\.0\.4 action=MUX target=127\.0\.0\.4:{port} bypass=yes [^\n]*end=done")
                self.assertEqual(far.log().count("stream="), 2)  # 127.0.0.4 never went through the tunnel
                self.assertEqual(len(allowed.peers), 1)
                self.assertEqual(denied.peers, [])
                self.assertEqual(len(bypassed.peers), 1)
        finally:
            for d in (allowed, denied, bypassed):
                d.close()

    def test_stream_without_an_allow_list_is_refused_by_the_config(self):
        with self.assertRaises(AssertionError) as refused:
            Passthru("""
[servers."127.0.0.1:0"]
[servers."127.0.0.1:0".CATCHALL]
CATCHALL = { action = "FORWARD", to_addr = "STREAM" }
""")
        self.assertIn('to_addr = "STREAM" needs allow', str(refused.exception))

    def test_stream_on_a_listener_no_stream_reaches_is_refused_by_the_config(self):
        with self.assertRaises(AssertionError) as refused:
            Passthru("""
[servers."127.0.0.1:0"]
[servers."127.0.0.1:0".CATCHALL]
CATCHALL = { action = "FORWARD", to_addr = "STREAM", allow = [".example.test"] }
""")
        self.assertIn("no stream arrives at this listener: give it a DEMUX rule", str(refused.exception))

    def test_a_connection_that_is_not_a_stream_has_no_route_on_a_stream_rule(self):
        # STREAM is a stream's own destination; a plain connection beside the tunnels names none.
        with Passthru("""
[servers."127.0.0.1:0"]
[servers."127.0.0.1:0".MPROXY]
CATCHALL = { action = "DEMUX" }
[servers."127.0.0.1:0".TLS]
"SNI a.example.test" = { action = "FORWARD", to_addr = "STREAM", allow = [".example.test"] }
""") as proxy:
            with connect(proxy.port) as client:
                client.sendall(client_hello("a.example.test"))
                client.settimeout(seconds(5))
                self.assertEqual(recv_all(client), b"")
            proxy.wait_log(r'rule="SNI a\.example\.test" sni=a\.example\.test action=FORWARD target=STREAM [^\n]*end=no_route')


if __name__ == "__main__":
    unittest.main()
