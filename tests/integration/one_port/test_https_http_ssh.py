"""The sslh use case with real clients and servers: one passthru port carries TLS routed by
SNI (openssl s_server), plain HTTP routed by Host (nginx), and SSH (OpenSSH's sshd), including
SSH clients that wait for the server to speak first (ssh-keyscan), which reach sshd through
the server CATCHALL at the deadline."""

import re
import subprocess
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import (Passthru, Sshd, TlsBackend, nginx_backends, connect, recv_all, s_client, seconds,  # noqa: E402
                     wait_until)


class OnePort(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sshd = Sshd()
        cls.web = nginx_backends(["backend-a", "backend-b", "http-catchall"])
        cls.tls = TlsBackend("secure.example.com")
        cls.proxy = Passthru(f"""
[servers."127.0.0.1:0"]
timeout_ms = {int(seconds(1) * 1000)}
[servers."127.0.0.1:0".TLS]
"SNI secure.example.com" = {{ action = "FORWARD", to_addr = "127.0.0.1:{cls.tls.port}" }}
[servers."127.0.0.1:0".HTTP]
"HOST a.example.com"   = {{ action = "FORWARD", to_addr = "127.0.0.1:{cls.web.ports['backend-a']}" }}
"HOST *.b.example.com" = {{ action = "FORWARD", to_addr = "127.0.0.1:{cls.web.ports['backend-b']}" }}
CATCHALL               = {{ action = "FORWARD", to_addr = "127.0.0.1:{cls.web.ports['http-catchall']}" }}
[servers."127.0.0.1:0".SSH]
"VERSION OpenSSH_*" = {{ action = "FORWARD", to_addr = "127.0.0.1:{cls.sshd.port}" }}
CATCHALL            = {{ action = "FORWARD", to_addr = "127.0.0.1:{cls.sshd.port}" }}
[servers."127.0.0.1:0".CATCHALL]
CATCHALL = {{ action = "FORWARD", to_addr = "127.0.0.1:{cls.sshd.port}" }}
""")
        time.sleep(0.2)
        cls.fds_at_start = cls.proxy.fd_count()

    @classmethod
    def tearDownClass(cls):
        code = cls.proxy.stop()
        for peer in (cls.sshd, cls.web, cls.tls):
            peer.close()
        assert code == 0, cls.proxy.log()

    def curl(self, *args):
        r = subprocess.run(["curl", "-sS", "--noproxy", "*", "--max-time", str(seconds(10)), *args],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def test_http_host_header_reaches_its_backend(self):
        self.assertEqual(self.curl("-H", "Host: a.example.com", f"http://127.0.0.1:{self.proxy.port}/"), "backend-a\n")

    def test_http_wildcard_host_through_resolve(self):
        port = self.proxy.port
        self.assertEqual(self.curl("--resolve", f"x.b.example.com:{port}:127.0.0.1", f"http://x.b.example.com:{port}/"),
                         "backend-b\n")

    def test_http_unknown_host_reaches_the_http_catchall(self):
        self.assertEqual(self.curl("-H", "Host: unknown.test", f"http://127.0.0.1:{self.proxy.port}/"), "http-catchall\n")

    def test_http_two_different_hosts_are_not_routed_by_either(self):
        with connect(self.proxy.port) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: a.example.com\r\nHost: x.b.example.com\r\nConnection: close\r\n\r\n")
            recv_all(s)
        line = self.proxy.wait_log(r"protocol=HTTP rule=\"CATCHALL\" method=GET host=\(ambiguous\)[^\n]*")[-1]
        self.assertIn(f"target=127.0.0.1:{self.web.ports['http-catchall']}", line)

    def test_tls_by_sni_on_the_same_port(self):
        self.assertEqual(s_client(self.proxy.port, "secure.example.com"), "secure.example.com")

    def test_ssh_client_runs_a_command_through_passthru(self):
        r = self.sshd.ssh(self.proxy.port, "echo hello-through-passthru")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "hello-through-passthru")
        self.proxy.wait_log(r'protocol=SSH rule="VERSION OpenSSH_\*" ssh_version=2.0 ssh_software=OpenSSH_9')

    def test_ssh_keyscan_waits_for_the_server_and_gets_there_at_the_deadline(self):
        r = subprocess.run(["ssh-keyscan", "-T", str(int(seconds(10))), "-t", "ed25519", "-p", str(self.proxy.port),
                            "127.0.0.1"], capture_output=True, text=True, timeout=seconds(30))
        self.assertIn(self.sshd.host_key_pub, r.stdout, r.stderr)
        self.proxy.wait_log(r"protocol=- rule=CATCHALL fallback=timeout action=FORWARD target=127.0.0.1:%d" % self.sshd.port)

    def test_a_silent_client_hears_sshd_after_the_deadline(self):
        with connect(self.proxy.port) as s:
            started = time.monotonic()
            banner = s.recv(100)
            self.assertTrue(banner.startswith(b"SSH-2.0-OpenSSH_"), banner)
            self.assertGreaterEqual(time.monotonic() - started, seconds(1) * 0.9)

    def test_zz_every_descriptor_is_closed_afterwards(self):
        # Named to run last in this class: after every client above has gone.
        wait_until(lambda: self.proxy.fd_count() == self.fds_at_start, 10,
                   f"fd count to return to {self.fds_at_start}")


if __name__ == "__main__":
    unittest.main()
