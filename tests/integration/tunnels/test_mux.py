"""MUX: connections carried as M-PROXY streams of one outgoing tunnel ([tunnels.NAME]).
- What passthru sends is what proxy-packer 2.0.4 (from npm) packs for the same fields, byte for
  byte, and proxy-packer's unpacker reads it; the answer, packed by proxy-packer, reaches the client.
- Two passthru instances on loopback: 40 concurrent connections through the near one share one
  tunnel (one established TCP connection to the far one, as the kernel's sock_diag counts it),
  each reaching its own backend (by its HTTP Host) with every byte both ways.
- idle_timeout_ms closes the tunnel once no stream is open, and the next connection opens it again.
- The far end going away ends the streams with end=tunnel_lost; a tunnel kept open (no
  idle_timeout_ms) dials again with backoff, and traffic flows once the far end is back.
- While the far end is down, a new connection waits for the tunnel up to connect_timeout_ms."""

import base64
import json
import re
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import Passthru, TcpServer, connect, echo_handler, free_port, recv_all, seconds, wait_until  # noqa: E402

MPROXY = Path(__file__).resolve().parents[1] / "mproxy"
REFERENCE = MPROXY / "node_modules" / "proxy-packer"


def established(port):
    """Established TCP connections whose local port is `port` (the far end's side of each tunnel),
    as the kernel's sock_diag answers (what `ss` asks). Not from /proc/net/tcp: that file comes a
    page per read(2), each resuming its walk of a socket table that changes in between, so while
    connections come and go one read of it can list a socket twice, or miss one. Here the kernel
    filters by state and port and the few answers come from one walk."""
    request = (struct.pack("=BBBBI", socket.AF_INET, socket.IPPROTO_TCP, 0, 0,  # inet_diag_req_v2: family, protocol,
                           1 << 1)                  # no extensions, pad; states: ESTABLISHED only
               + struct.pack("!HH32x", port, 0)     # inet_diag_sockid: source port; any destination port, addresses
               + bytes(4 + 8))                      # any interface; cookie (a dump ignores it)
    header = struct.pack("=IHHII", 16 + len(request),  # nlmsghdr: length,
                         20, 0x300 | 1, 1, 0)          # SOCK_DIAG_BY_FAMILY, NLM_F_DUMP | NLM_F_REQUEST, seq, pid
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 4) as diag:  # NETLINK_SOCK_DIAG
        diag.sendall(header + request)
        count = 0
        while True:
            answer = diag.recv(65536)
            offset = 0
            while offset < len(answer):
                length, kind = struct.unpack_from("=IH", answer, offset)
                if kind == 3:  # NLMSG_DONE
                    return count
                if kind == 2:  # NLMSG_ERROR: its errno, negated, follows the header
                    raise OSError(-struct.unpack_from("=i", answer, offset + 16)[0], "sock_diag refused")
                count += 1  # an inet_diag_msg: one socket
                offset += (length + 3) & ~3  # NLMSG_ALIGN


def http_request(host, payload):
    return b"POST / HTTP/1.1\r\nHost: " + host.encode() + b"\r\nContent-Length: %d\r\n\r\n" % len(payload) + payload


def near_config(far_port, tunnel_options="", rule_options=""):
    return f"""
[tunnels.far]
connect = "127.0.0.1:{far_port}"
reconnect_min_ms = 50
reconnect_max_ms = 400
{tunnel_options}
[servers."127.0.0.1:0"]
timeout_ms = 2000
[servers."127.0.0.1:0".HTTP]
"HOST *.test"    = {{ action = "MUX", tunnel = "far"{rule_options} }}
"HOST *.example" = {{ action = "MUX", tunnel = "far"{rule_options} }}
"""


def far_config(backends, listen="127.0.0.1:0"):
    rules = "\n".join(f'"NAME b{i}.test" = {{ action = "FORWARD", to_addr = "127.0.0.1:{b.port}" }}'
                      for i, b in enumerate(backends))
    return f"""
[servers."{listen}"]
[servers."{listen}".MPROXY]
{rules}
CATCHALL = {{ action = "DEMUX" }}
"""


def node(*argv):
    r = subprocess.run(["node", *[str(a) for a in argv]], capture_output=True, timeout=seconds(60), cwd=MPROXY)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout.decode()


class AgainstProxyPacker(unittest.TestCase):
    def test_what_mux_sends_is_what_proxy_packer_packs_and_its_answer_comes_back(self):
        if not REFERENCE.exists():
            raise AssertionError("proxy-packer is not installed: run tools/setup.sh")
        far = socket.create_server(("127.0.0.1", 0))
        far.settimeout(seconds(10))
        with far, Passthru(near_config(far.getsockname()[1]), workers=1) as near, \
                tempfile.TemporaryDirectory() as tmp:
            client = connect(near.port)
            request = http_request("app.example", b"ping" * 1000)
            client.sendall(request)
            client.shutdown(socket.SHUT_WR)  # the stream's `end`
            tunnel, _ = far.accept()
            tunnel.settimeout(seconds(5))
            received = b""
            while not received.endswith(b",end,%d,app.example" % near.port):
                chunk = tunnel.recv(65536)
                self.assertTrue(chunk, received)
                received += chunk
            (Path(tmp) / "mux.bin").write_bytes(received)
            # proxy-packer's unpacker reads it, whole and one byte at a time, the same way.
            lines = node(MPROXY / "reference_unpack.js", "whole", Path(tmp) / "mux.bin").splitlines()
            self.assertEqual(lines, node(MPROXY / "reference_unpack.js", "bytes", Path(tmp) / "mux.bin").splitlines())
            messages = [json.loads(line) for line in lines]
            kinds = [m["kind"] for m in messages]
            self.assertEqual(kinds[:2], ["control", "connection"])
            self.assertEqual(kinds[-1], "end")
            self.assertEqual(set(kinds[2:-1]), {"data"})
            client_port = client.getsockname()[1]
            self.assertEqual(messages[1]["fields"],
                             ["IPv4", "127.0.0.1", str(client_port), "0", "connection", str(near.port), "app.example", "http"])
            self.assertEqual(b"".join(base64.b64decode(m["body_base64"]) for m in messages[2:-1]), request)
            # proxy-packer packs the same fields into the same bytes.
            with open(Path(tmp) / "same.jsonl", "w") as out:
                for m in messages:
                    f = m["fields"]
                    meta = {} if m["kind"] == "control" else {
                        "family": f[0], "address": f[1], "port": f[2], "serviceport": f[5], "name": f[6],
                        "service": f[7] if m["kind"] == "connection" else f[4]}
                    out.write(json.dumps({"kind": m["kind"], "meta": meta, "body_base64": m["body_base64"],
                                          "oldways": False}) + "\n")
            node(MPROXY / "reference_pack.js", Path(tmp) / "same.jsonl", Path(tmp) / "reference.bin")
            self.assertEqual((Path(tmp) / "reference.bin").read_bytes(), received)
            # The answer, packed by proxy-packer, reaches the client; its `end` closes the client.
            meta = {"family": "IPv4", "address": "127.0.0.1", "port": str(client_port), "service": "http",
                    "serviceport": str(near.port), "name": "app.example"}
            answer = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\npong"
            with open(Path(tmp) / "answer.jsonl", "w") as out:
                out.write(json.dumps({"kind": "data", "meta": meta, "body_base64": base64.b64encode(answer).decode()}) + "\n")
                out.write(json.dumps({"kind": "end", "meta": meta, "body_base64": "", "oldways": True}) + "\n")
            node(MPROXY / "reference_pack.js", Path(tmp) / "answer.jsonl", Path(tmp) / "answer.bin")
            tunnel.sendall((Path(tmp) / "answer.bin").read_bytes())
            client.settimeout(seconds(5))
            self.assertEqual(recv_all(client), answer)
            client.close()
            near.wait_log(r"protocol=HTTP rule=\"HOST \*\.example\" method=POST host=app\.example action=MUX target=tunnel:far "
                          rf"bytes_up={len(request)} bytes_down={len(answer)} [^\n]*end=done")
            tunnel.close()


class TwoInstances(unittest.TestCase):
    def test_forty_connections_share_one_tunnel_each_reaching_its_own_backend_with_every_byte(self):
        backends = [TcpServer(echo_handler, backlog=64) for _ in range(4)]
        try:
            with Passthru(far_config(backends)) as far, Passthru(near_config(far.port), workers=1) as near:
                results = {}
                seen_tunnels = []

                def one(i):
                    payload = bytes([i]) * (256 * 1024 + i)
                    request = http_request(f"b{i % 4}.test", payload)
                    with connect(near.port, timeout=seconds(60)) as s:
                        s.settimeout(seconds(60))
                        sender = threading.Thread(target=lambda: (s.sendall(request), s.shutdown(socket.SHUT_WR)))
                        sender.start()
                        got = b""
                        while True:
                            chunk = s.recv(1 << 20)
                            if not chunk:
                                break
                            got += chunk
                            if len(got) > 1000 and len(seen_tunnels) <= i:
                                seen_tunnels.append(established(far.port))  # once per connection
                        sender.join()
                    results[i] = got == request

                threads = [threading.Thread(target=one, args=(i,)) for i in range(40)]
                for t in threads:
                    t.start()
                time.sleep(0.2)
                during = established(far.port)
                for t in threads:
                    t.join(seconds(120))
                self.assertEqual(sorted(results), list(range(40)))
                self.assertTrue(all(results.values()), [i for i, ok in results.items() if not ok])
                self.assertEqual(during, 1, "one tunnel connection to the far end while 40 streams run")
                self.assertEqual(set(seen_tunnels), {1})
                ended = r"stream=IPv4,127\.0\.0\.1,\d+ protocol=MPROXY rule=\"NAME (b\d)\.test\"[^\n]*end=done"
                wait_until(lambda: len(re.findall(ended, far.log())) == 40, 10, "40 streams' lines at the far end")
                far_lines = re.findall(ended, far.log())
                self.assertEqual({name: far_lines.count(name) for name in set(far_lines)}, {f"b{i}": 10 for i in range(4)})
                wait_until(lambda: len(re.findall(r"action=MUX target=tunnel:far bytes_up=2\d{5} [^\n]*end=done",
                                                  near.log())) == 40, 10, "40 connections' lines at the near end")
        finally:
            for b in backends:
                b.close()

    def test_an_idle_tunnel_closes_after_idle_timeout_ms_and_the_next_connection_opens_it_again(self):
        with TcpServer(echo_handler) as backend, Passthru(far_config([backend])) as far, \
                Passthru(near_config(far.port, f"idle_timeout_ms = {int(seconds(3) * 1000)}"), workers=1) as near:
            for round in range(2):
                with connect(near.port) as s:
                    s.sendall(http_request("b0.test", b"x" * 10))
                    s.shutdown(socket.SHUT_WR)
                    s.settimeout(seconds(5))
                    self.assertEqual(len(recv_all(s)), len(http_request("b0.test", b"x" * 10)))
                self.assertEqual(established(far.port), 1)  # still open, within idle_timeout_ms (ample on a loaded box)
                wait_until(lambda: established(far.port) == 0, 8, "the idle tunnel to close")
            wait_until(lambda: far.log().count("action=DEMUX streams=1 ") == 2, 5, "two tunnels, one stream each")

    def test_a_lost_tunnel_ends_its_streams_and_is_dialled_again_once_the_far_end_is_back(self):
        port = free_port()
        with TcpServer(echo_handler) as backend, \
                Passthru(near_config(port, "connect_timeout_ms = 3000"), workers=1) as near:
            far = Passthru(far_config([backend], f"127.0.0.1:{port}"))
            held = connect(near.port)
            held.sendall(http_request("b0.test", b"held"))
            held.settimeout(seconds(5))
            self.assertEqual(held.recv(65536)[-4:], b"held")
            far.process.kill()  # the far end goes away without a word
            far.process.wait()
            far.stop()
            far.dir.cleanup()
            near.wait_log(r"action=MUX target=tunnel:far [^\n]*end=tunnel_lost")
            try:
                self.assertEqual(recv_all(held), b"")
            except ConnectionResetError:
                pass  # the client is reset: its stream did not end cleanly
            held.close()
            near.wait_log(r"tunnel=far cannot connect to 127\.0\.0\.1:\d+: connect_failed")  # dialling, backing off
            with Passthru(far_config([backend], f"127.0.0.1:{port}")) as again:
                wait_until(lambda: established(port) == 1, 5, "the tunnel to be dialled again")
                near.wait_log(r"tunnel=far connected to 127\.0\.0\.1:\d+ again")
                with connect(near.port) as s:
                    s.sendall(http_request("b0.test", b"after"))
                    s.shutdown(socket.SHUT_WR)
                    s.settimeout(seconds(5))
                    self.assertTrue(recv_all(s).endswith(b"after"))
                again.wait_log(r"rule=\"NAME b0\.test\"[^\n]*end=done")

    def test_a_connection_waits_for_a_tunnel_that_is_down_up_to_connect_timeout_ms(self):
        port = free_port()
        with Passthru(near_config(port, "connect_timeout_ms = 500"), workers=1) as near:
            with connect(near.port) as s:
                s.sendall(http_request("b0.test", b"x"))
                s.settimeout(seconds(5))
                started = time.monotonic()
                self.assertEqual(recv_all(s), b"")
                self.assertGreater(time.monotonic() - started, 0.3)
            near.wait_log(r"action=MUX target=tunnel:far [^\n]*end=connect_timeout")


if __name__ == "__main__":
    unittest.main()
