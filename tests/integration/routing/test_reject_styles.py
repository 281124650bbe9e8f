"""Reject styles, as real clients report them: openssl s_client gets a fatal TLS alert
(unrecognized_name, 112, when it sent a name; handshake_failure, 40, when it did not), curl gets
an HTTP/1.1 response (421 Misdirected Request, or the rule's status) with a short body and
Connection: close; a raw client sees a RST for reset and a plain FIN for close."""

import socket
import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import Passthru, client_hello, connect, seconds  # noqa: E402

CONFIG = """
[servers."127.0.0.1:0"]
timeout_ms = 2000
[servers."127.0.0.1:0".TLS]
"SNI alert.example.com" = { action = "REJECT", reject = "tls_alert" }
"SNI reset.example.com" = { action = "REJECT", reject = "reset" }
"SNI close.example.com" = { action = "REJECT", reject = "close" }
"SNI plain.example.com" = { action = "REJECT" }
CATCHALL                = { action = "REJECT", reject = "tls_alert" }
[servers."127.0.0.1:0".HTTP]
"HOST misdirected.example" = { action = "REJECT", reject = "http" }
"HOST forbidden.example"   = { action = "REJECT", reject = "http", status = 403 }
[servers."127.0.0.1:0".CATCHALL]
CATCHALL = { action = "REJECT", reject = "reset" }
"""


def s_client(port, servername=None):
    cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}"]
    cmd += ["-servername", servername] if servername else ["-noservername"]
    return subprocess.run(cmd, input="", capture_output=True, text=True, timeout=seconds(15))


def curl(port, host):
    """curl's exit status, and what it wrote: the response head (-D -) and body, bytes as sent."""
    r = subprocess.run(["curl", "-sS", "--max-time", str(seconds(10)), "-D", "-", "-H", f"Host: {host}",
                        f"http://127.0.0.1:{port}/"], capture_output=True)
    return subprocess.CompletedProcess(r.args, r.returncode, r.stdout.decode(), r.stderr.decode())


def outcome(port, first_bytes):
    """What a raw client sees after sending `first_bytes`: the bytes it got before a FIN, or "reset"."""
    with connect(port) as s:
        s.sendall(first_bytes)
        data = b""
        try:
            while chunk := s.recv(4096):
                data += chunk
        except ConnectionResetError:
            return "reset"
        return data


class RejectStyles(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proxy = Passthru(CONFIG)

    @classmethod
    def tearDownClass(cls):
        assert cls.proxy.stop() == 0, cls.proxy.log()

    def test_openssl_reports_unrecognized_name_for_a_named_server(self):
        r = s_client(self.proxy.port, "alert.example.com")
        self.assertNotEqual(r.returncode, 0)
        self.assertRegex(r.stderr, r"unrecognized name.*SSL alert number 112", r.stderr)

    def test_openssl_reports_handshake_failure_without_a_name(self):
        r = s_client(self.proxy.port)
        self.assertRegex(r.stderr, r"handshake failure.*SSL alert number 40", r.stderr)

    def test_the_alert_record_carries_the_clients_record_version(self):
        hello = client_hello("alert.example.com")            # record version 0x0301
        self.assertEqual(outcome(self.proxy.port, hello),
                         bytes([21, 3, 1, 0, 2, 2, 112]))    # alert, TLS 1.0 record, length 2, fatal, unrecognized_name
        hello = b"\x16\x03\x03" + hello[3:]                  # the same hello in a 0x0303 record
        self.assertEqual(outcome(self.proxy.port, hello), bytes([21, 3, 3, 0, 2, 2, 112]))

    def test_reset_and_close(self):
        self.assertEqual(outcome(self.proxy.port, client_hello("reset.example.com")), "reset")
        self.assertEqual(outcome(self.proxy.port, client_hello("close.example.com")), b"")
        self.assertEqual(outcome(self.proxy.port, client_hello("plain.example.com")), b"")  # close is the default
        self.assertEqual(outcome(self.proxy.port, b"\x00 nothing known\r\n"), "reset")  # the listener's CATCHALL

    def test_openssl_sees_a_reset(self):
        r = s_client(self.proxy.port, "reset.example.com")
        self.assertRegex(r.stderr + r.stdout, r"errno=104|Connection reset by peer")

    def test_curl_gets_421_misdirected_request(self):
        r = curl(self.proxy.port, "misdirected.example")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^HTTP/1.1 421 Misdirected Request\r\n")
        self.assertIn("Connection: close\r\n", r.stdout)
        self.assertTrue(r.stdout.endswith("\r\n\r\n421 Misdirected Request\n"), r.stdout)

    def test_curl_gets_the_rules_status(self):
        r = curl(self.proxy.port, "forbidden.example")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^HTTP/1.1 403 Forbidden\r\n")
        self.assertTrue(r.stdout.endswith("403 Forbidden\n"), r.stdout)

    def test_each_refusal_is_logged_as_rejected_with_the_bytes_of_its_answer(self):
        outcome(self.proxy.port, client_hello("alert.example.com"))
        self.proxy.wait_log(r"sni=alert\.example\.com .*action=REJECT .*bytes_down=7 .*end=rejected", 5)  # one alert record
        self.assertEqual(curl(self.proxy.port, "forbidden.example").returncode, 0)
        response = len("HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n"
                       "Connection: close\r\n\r\n403 Forbidden\n")
        self.proxy.wait_log(rf"host=forbidden\.example .*action=REJECT .*bytes_down={response} .*end=rejected", 5)


if __name__ == "__main__":
    unittest.main()
