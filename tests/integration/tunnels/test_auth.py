"""Tunnel authentication: a DEMUX rule with tokens_file accepts a tunnel only when its first
control message carries a token granted for the tunnel it names (a [tunnels.NAME] token_file
sends it). A wrong token, a token granted for another tunnel, a first message that is not the
token, and silence past timeout_ms each get a control error E_AUTH and the tunnel is closed:
nothing it sent reaches a backend. A client built on proxy-packer (its packer makes every byte)
authenticates the same way and opens a stream."""

import base64
import errno
import json
import socket
import sys
import tempfile
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import Passthru, TcpServer, connect, echo_handler, recv_all, seconds  # noqa: E402
from test_mux import MPROXY, established, http_request, node  # noqa: E402

GOOD = "tok-3f9a1c7e5b2d8a40e6c1"
OTHER = "tok-other-77aa88bb99cc"


def frame(header, body=b""):
    return bytes([0xFE, len(header)]) + header + body


class Auth(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory(prefix="passthru-tokens-")
        d = Path(cls.dir.name)
        (d / "tokens").write_text(f"# token tunnel names...\n{GOOD} home app.test\n{OTHER} office\n")
        (d / "good").write_text(GOOD + "\n")
        (d / "wrong").write_text("tok-0000000000000000000\n")
        (d / "other").write_text(OTHER + "\n")
        cls.backend = TcpServer(echo_handler)
        cls.far = Passthru(f"""
[servers."127.0.0.1:0"]
timeout_ms = {int(seconds(1) * 1000)}
[servers."127.0.0.1:0".MPROXY]
"NAME app.test" = {{ action = "FORWARD", to_addr = "127.0.0.1:{cls.backend.port}" }}
CATCHALL = {{ action = "DEMUX", tokens_file = "{d / 'tokens'}" }}
""")

    @classmethod
    def tearDownClass(cls):
        cls.far.stop()
        cls.backend.close()
        cls.dir.cleanup()

    def near(self, token_file, tunnel="home"):
        return Passthru(f"""
[tunnels.{tunnel}]
connect = "127.0.0.1:{self.far.port}"
token_file = "{Path(self.dir.name) / token_file}"
connect_timeout_ms = {int(seconds(1) * 1000)}
reconnect_min_ms = 2000
[servers."127.0.0.1:0"]
[servers."127.0.0.1:0".CATCHALL]
CATCHALL = {{ action = "MUX", tunnel = "{tunnel}", name = "app.test" }}
""", workers=1)

    def exchange(self, port, payload):
        """What comes back for `payload`; b"" when passthru ends the connection, however soon
        (a refused tunnel's reset may come before the shutdown: ENOTCONN)."""
        with connect(port) as s:
            try:
                s.sendall(payload)
                s.shutdown(socket.SHUT_WR)
                s.settimeout(seconds(5))
                return recv_all(s)
            except (ConnectionResetError, BrokenPipeError):
                return b""
            except OSError as e:
                if e.errno != errno.ENOTCONN:
                    raise
                return b""

    def test_a_granted_token_opens_the_tunnel_and_its_streams_flow(self):
        with self.near("good") as near:
            self.assertEqual(self.exchange(near.port, b"hello through"), b"hello through")
            near.wait_log(r"action=MUX target=tunnel:home bytes_up=13 bytes_down=13 [^\n]*end=done")

    def refused(self, token_file, tunnel, why):
        connections = self.backend_connections()
        with self.near(token_file, tunnel) as near:
            self.assertEqual(self.exchange(near.port, b"must not arrive"), b"")
            near.wait_log(rf"tunnel={tunnel} to 127\.0\.0\.1:\d+ lost")
        self.far.wait_log(rf'action=DEMUX streams=0 [^\n]*end=rejected protocol_error="{why}"')
        self.assertEqual(self.backend_connections(), connections, "nothing reached the backend")

    def backend_connections(self):
        return self.far.log().count(f"target=127.0.0.1:{self.backend.port}")

    def test_a_wrong_token_is_refused_and_nothing_is_routed(self):
        self.refused("wrong", "home", "a token not granted for this tunnel")

    def test_a_token_granted_for_another_tunnel_is_refused(self):
        self.refused("other", "home", "a token not granted for this tunnel")

    def test_a_first_message_that_is_not_the_token_is_refused_with_a_control_error(self):
        before = self.backend_connections()
        with connect(self.far.port) as s:
            s.sendall(frame(b",,,2,control", b"[]") + frame(b"IPv4,10.1.1.1,5000,0,connection,443,app.test,tcp")
                      + frame(b"IPv4,10.1.1.1,5000,5,tcp,443,app.test", b"hello"))
            s.settimeout(seconds(5))
            answer = recv_all(s)
        error = b'[0,{"code":"E_AUTH","message":"the first message did not authenticate"}]'
        self.assertEqual(answer, frame(b",,,%d,control" % len(error), error))
        self.assertEqual(self.backend_connections(), before)

    def test_silence_past_timeout_ms_is_refused(self):
        with connect(self.far.port) as s:
            s.sendall(frame(b",,,2,control"))  # a header, then no body: it never authenticates
            s.settimeout(seconds(5))
            started = time.monotonic()
            answer = recv_all(s)
            self.assertGreater(time.monotonic() - started, 0.5)
        self.assertIn(b'"code":"E_AUTH","message":"no token within timeout_ms"', answer)

    def test_a_proxy_packer_client_authenticates_and_opens_a_stream(self):
        meta = {"family": "IPv4", "address": "10.2.3.4", "port": "4242", "service": "tcp", "serviceport": "443",
                "name": "app.test"}
        auth = json.dumps([1, "auth", {"tunnel": "home", "token": GOOD}]).encode()
        messages = [{"kind": "control", "meta": {}, "body_base64": base64.b64encode(auth).decode()},
                    {"kind": "connection", "meta": meta, "body_base64": ""},
                    {"kind": "data", "meta": meta, "body_base64": base64.b64encode(b"packed by the reference").decode()},
                    {"kind": "end", "meta": meta, "body_base64": ""}]
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "in.jsonl").write_text("".join(json.dumps(m) + "\n" for m in messages))
            node(MPROXY / "reference_pack.js", Path(tmp) / "in.jsonl", Path(tmp) / "out.bin")
            with connect(self.far.port) as s:
                s.sendall((Path(tmp) / "out.bin").read_bytes())
                s.settimeout(seconds(5))
                got = b""
                while b",end," not in got:
                    chunk = s.recv(65536)
                    self.assertTrue(chunk, got)
                    got += chunk
            (Path(tmp) / "answer.bin").write_bytes(got)
            answer = [json.loads(line) for line in node(MPROXY / "reference_unpack.js", "whole", Path(tmp) / "answer.bin").splitlines()]
        self.assertEqual([m["kind"] for m in answer], ["data", "end"])
        self.assertEqual(base64.b64decode(answer[0]["body_base64"]), b"packed by the reference")
        self.far.wait_log(r"client=10\.2\.3\.4:4242 [^\n]*rule=\"NAME app\.test\"[^\n]*end=done")


if __name__ == "__main__":
    unittest.main()
