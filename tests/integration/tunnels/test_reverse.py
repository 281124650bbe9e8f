"""Reverse tunnels: an inner passthru (behind NAT, in spirit) dials the outer one over TLS (the
outer's certificate for tunnel.test verified; only that rule's connections decrypted) with a token,
and routes the streams that arrive over that tunnel by its own [tunnels.home.TLS] table. The
outer one routes connections by SNI, without terminating their TLS, into the authenticated
tunnel registered as "home" (MUX tunnel = "home").
- openssl s_client -servername app.test and curl --resolve reach an s_server behind the inner
  one, end-to-end TLS, each verifying the backend's own certificate.
- A name the tunnel's grant does not list, or no tunnel up, falls to the outer's server
  CATCHALL (fallback=no_tunnel); a wrong token (over a plain link) never registers; a link
  whose certificate does not verify never comes up.
- Killing the outer and starting it again on the same port: the inner dials again within its
  backoff, and traffic flows again."""

import socket
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import (Passthru, TcpServer, TlsBackend, certificate, client_hello, curl_https, free_port,  # noqa: E402
                     s_client, seconds, wait_until)
from test_mux import established  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "metrics"))
from test_metrics import get, sample  # noqa: E402

TOKEN = "tok-reverse-5e1f0a9c3b7d"


def outer_config(port, tokens, fallback_port):
    cert, key = certificate("tunnel.test")  # the tunnel link's own certificate
    return f"""
[servers."127.0.0.1:{port}"]
timeout_ms = {int(seconds(2) * 1000)}
[servers."127.0.0.1:{port}".MPROXY]
CATCHALL = {{ action = "DEMUX", tokens_file = "{tokens}" }}
[servers."127.0.0.1:{port}".TLS]
"SNI tunnel.test" = {{ action = "DEMUX", tokens_file = "{tokens}", tls_cert = "{cert}", tls_key = "{key}" }}
"SNI app.test"   = {{ action = "MUX", tunnel = "home" }}
"SNI other.test" = {{ action = "MUX", tunnel = "home" }}
[servers."127.0.0.1:{port}".CATCHALL]
CATCHALL = {{ action = "FORWARD", to_addr = "127.0.0.1:{fallback_port}" }}
"""


def inner_config(outer_port, token_file, backend_port, tls):
    link = f'tls = true\nserver_name = "tunnel.test"\nca_file = "{certificate("tunnel.test")[0]}"' if tls else ""
    return f"""
[tunnels.home]
connect = "127.0.0.1:{outer_port}"
{link}
token_file = "{token_file}"
reconnect_min_ms = 100
reconnect_max_ms = 1000
[tunnels.home.TLS]
"SNI app.test" = {{ action = "FORWARD", to_addr = "127.0.0.1:{backend_port}" }}
[servers."127.0.0.1:0"]
[servers."127.0.0.1:0".CATCHALL]
CATCHALL = {{ action = "REJECT" }}
"""


def silent(server, conn):
    conn.recv(1)


class Reverse(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory(prefix="passthru-reverse-")
        d = Path(cls.dir.name)
        (d / "tokens").write_text(f"{TOKEN} home app.test\n")
        (d / "token").write_text(TOKEN)
        (d / "wrong").write_text("tok-not-the-right-one-000")
        cls.backend = TlsBackend("app.test")
        cls.fallback = TcpServer(silent)

    @classmethod
    def tearDownClass(cls):
        cls.backend.close()
        cls.fallback.close()
        cls.dir.cleanup()

    def outer(self, port, workers=2):
        return Passthru(outer_config(port, Path(self.dir.name) / "tokens", self.fallback.port), workers=workers)

    def inner(self, port, token="token", tls=True):
        return Passthru(inner_config(port, Path(self.dir.name) / token, self.backend.port, tls), workers=1)

    def test_clients_reach_the_backend_behind_the_inner_end_to_end_and_again_after_the_outer_restarts(self):
        port = free_port()
        cert, _ = certificate("app.test")
        outer = self.outer(port)
        with self.inner(port) as inner:
            wait_until(lambda: established(port) == 1, 5, "the inner to dial the outer")
            outer.wait_log(r"tunnel=home authenticated from 127\.0\.0\.1:\d+ and registered")
            verify = ["-verify_return_error", "-CAfile", str(cert)]
            self.assertEqual(s_client(port, "app.test", extra=verify), "app.test")
            r = curl_https(port, "app.test", cert)
            self.assertEqual(r.returncode, 0, r.stderr + outer.log()[-2000:] + inner.log()[-2000:])
            self.assertIn("s_server", r.stdout)
            outer.wait_log(r"protocol=TLS rule=\"SNI app\.test\" sni=app\.test [^\n]*action=MUX target=tunnel:home [^\n]*end=done")
            inner.wait_log(r"listener=tunnel:home stream=IPv4,127\.0\.0\.1,\d+ protocol=TLS rule=\"SNI app\.test\"[^\n]*end=done")
            # A name the grant does not list: the outer's CATCHALL.
            self.assertIsNone(s_client(port, "other.test"))
            outer.wait_log(r"rule=CATCHALL fallback=no_tunnel sni=other\.test action=FORWARD")
            # The outer goes away and comes back on the same port.
            outer.process.kill()
            outer.process.wait()
            outer.stop()
            outer.dir.cleanup()
            inner.wait_log(r"tunnel=home to 127\.0\.0\.1:\d+ lost")
            self.assertIsNone(s_client(port, "app.test"))  # nothing listens
            with self.outer(port) as again:
                wait_until(lambda: established(port) == 1, 5, "the inner to dial the restarted outer")
                inner.wait_log(r"tunnel=home connected to 127\.0\.0\.1:\d+ again")
                again.wait_log(r"tunnel=home authenticated from 127\.0\.0\.1:\d+ and registered")
                self.assertEqual(s_client(port, "app.test", extra=verify), "app.test")
                again.wait_log(r"action=MUX target=tunnel:home [^\n]*end=done")

    def test_with_two_workers_every_client_reaches_the_tunnel_whichever_worker_it_registered_in(self):
        # The tunnel lives in one worker; the kernel spreads connections over every worker that
        # listens. The listener that carries the tunnel is the first worker's alone, so no client
        # lands in a worker that has no tunnel (which would fall back: fallback=no_tunnel).
        port = free_port()
        with self.outer(port, workers=2) as outer, self.inner(port) as inner:
            outer.wait_log(r"tunnel=home authenticated from 127\.0\.0\.1:\d+ and registered")
            clients = 24
            for _ in range(clients):
                self.assertEqual(s_client(port, "app.test"), "app.test", outer.log()[-1500:])
            wait_until(lambda: outer.log().count("target=tunnel:home") == clients, 5, "every client's line")
            self.assertNotIn("fallback=no_tunnel", outer.log())
            wait_until(lambda: inner.log().count("listener=tunnel:home") == clients, 5, "every stream's line")

    def test_without_a_tunnel_up_or_with_a_wrong_token_the_outers_catchall_applies(self):
        port = free_port()
        with self.outer(port) as outer:
            self.assertIsNone(s_client(port, "app.test"))
            outer.wait_log(r"rule=CATCHALL fallback=no_tunnel sni=app\.test action=FORWARD")
            with self.inner(port, "wrong", tls=False) as inner:
                outer.wait_log(r'end=rejected protocol_error="a token not granted for this tunnel"')
                inner.wait_log(r"tunnel=home to 127\.0\.0\.1:\d+ lost")
                self.assertIsNone(s_client(port, "app.test"))
                wait_until(lambda: outer.log().count("fallback=no_tunnel sni=app.test") == 2, 5,
                           "both refused clients' lines")

    def test_without_a_tunnel_up_a_catchall_that_rejects_or_none_at_all_ends_the_connection(self):
        # The connection waited for no link (a reverse tunnel is up or not): ending it there
        # once crashed passthru.
        port = free_port()
        forward = f'[servers."127.0.0.1:{port}".CATCHALL]\nCATCHALL = {{ action = "FORWARD", to_addr = "127.0.0.1:{self.fallback.port}" }}'
        for catchall in (f'[servers."127.0.0.1:{port}".CATCHALL]\nCATCHALL = {{ action = "REJECT" }}', ""):
            with self.subTest(catchall=catchall or "none"):
                config = outer_config(port, Path(self.dir.name) / "tokens", self.fallback.port)
                self.assertIn(forward, config)
                config = config.replace(forward, catchall)
                with Passthru(config) as outer:
                    self.assertIsNone(s_client(port, "app.test"))
                    outer.wait_log(r"fallback=no_tunnel sni=app\.test [^\n]*end=(rejected|no_route)")
                    self.assertIsNone(s_client(port, "app.test"))  # and it is still there to say so
                    wait_until(lambda: outer.log().count("fallback=no_tunnel") == 2, 5, "the second line")

    def test_without_a_tunnel_up_the_catchall_rejects_in_its_own_style(self):
        # The fallback is the server CATCHALL as written: reject = "reset" sends a reset, not a FIN.
        port = free_port()
        forward = f'CATCHALL = {{ action = "FORWARD", to_addr = "127.0.0.1:{self.fallback.port}" }}'
        config = outer_config(port, Path(self.dir.name) / "tokens", self.fallback.port)
        with Passthru(config.replace(forward, 'CATCHALL = { action = "REJECT", reject = "reset" }')) as outer:
            with socket.create_connection(("127.0.0.1", port), timeout=seconds(5)) as client:
                client.sendall(client_hello("app.test"))
                with self.assertRaises(ConnectionResetError):
                    client.recv(1)
            outer.wait_log(r"fallback=no_tunnel sni=app\.test action=REJECT [^\n]*end=rejected")

    def test_a_fallback_for_no_tunnel_is_counted_once_and_detection_timed_once(self):
        port = free_port()
        config = "[metrics]\nlisten = \"127.0.0.1:0\"\n" + outer_config(port, Path(self.dir.name) / "tokens",
                                                                     self.fallback.port)
        with Passthru(config) as outer:
            for _ in range(2):
                with socket.create_connection(("127.0.0.1", port), timeout=seconds(5)) as client:
                    client.sendall(client_hello("app.test"))
            wait_until(lambda: outer.log().count("fallback=no_tunnel") == 2, 5, "two fallback lines")
            text = get(outer.metrics_port, "/metrics")[1]
            listener = f"127.0.0.1:{port}"
            self.assertEqual(sample(text, "passthru_detection_seconds_count", listener=listener), 2)
            self.assertEqual(sample(text, "passthru_fallbacks_total", listener=listener, reason="no_tunnel"), 2)

    def test_a_link_whose_certificate_does_not_verify_never_comes_up(self):
        port = free_port()
        with self.outer(port) as outer:
            config = inner_config(port, Path(self.dir.name) / "token", self.backend.port, True)
            config = config.replace(str(certificate("tunnel.test")[0]), str(certificate("someone.else")[0]))
            with Passthru(config, workers=1) as inner:
                inner.wait_log(r"tunnel TLS: handshake failed: [^\n]*certificate verify failed")
                inner.wait_log(r"tunnel=home to 127\.0\.0\.1:\d+ lost")
                self.assertNotIn("authenticated", outer.log())
                self.assertIsNone(s_client(port, "app.test"))
                outer.wait_log(r"fallback=no_tunnel sni=app\.test")


if __name__ == "__main__":
    unittest.main()
