"""tools/run.sh without arguments (tools/demo.sh on the built binary): demo backends behind
configs/passthru.toml's own addresses, so that a newcomer's first connections are routed (by
SNI, by ALPN, and plain HTTP through the server CATCHALL) instead of ending in connect_failed.
It uses that config's fixed ports (8443, 9443-9445, 8080): if one is taken, the test is skipped."""

import os
import re
import signal
import subprocess
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import BINARY, SOURCE, port_accepts, seconds  # noqa: E402

PORTS = (8443, 9443, 9444, 9445, 8080)


def s_client_subject(servername=None, alpn=None):
    args = ["openssl", "s_client", "-connect", "127.0.0.1:8443"]
    args += ["-servername", servername] if servername else ["-noservername"]
    args += ["-alpn", alpn] if alpn else []
    r = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=seconds(20))
    m = re.search(r"^subject=.*CN ?= ?(\S+)", r.stdout, re.M)
    return m.group(1) if m else None


@unittest.skipIf(any(port_accepts(p) for p in PORTS), "a port of configs/passthru.toml is taken")
class FirstRun(unittest.TestCase):
    def test_the_demo_routes_by_sni_alpn_and_catchall(self):
        demo = subprocess.Popen([str(SOURCE / "tools" / "demo.sh"), str(BINARY)], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            said = []
            deadline = time.monotonic() + seconds(30)
            while time.monotonic() < deadline:
                line = demo.stdout.readline()
                if not line:
                    break
                said.append(line)
                if "Ctrl-C stops passthru" in line:
                    break
            text = "".join(said)
            self.assertIn("passthru: listening on 127.0.0.1:8443", text)
            self.assertIn("openssl s_client -connect 127.0.0.1:8443 -servername www.example.com", text)
            self.assertIn("curl -s http://127.0.0.1:8443/", text)
            self.assertEqual(s_client_subject("www.example.com"), "www.example.com")
            self.assertEqual(s_client_subject("shop.api.example.com"), "shop.api.example.com")
            self.assertEqual(s_client_subject(alpn="h2"), "h2.backend")
            r = subprocess.run(["curl", "-s", "--max-time", str(seconds(10)), "http://127.0.0.1:8443/"],
                               capture_output=True, text=True, timeout=seconds(20))
            self.assertIn("plain HTTP backend on 127.0.0.1:8080", r.stdout)
        finally:
            os.killpg(demo.pid, signal.SIGINT)
            try:
                demo.wait(timeout=seconds(15))
            except subprocess.TimeoutExpired:
                os.killpg(demo.pid, signal.SIGKILL)
                demo.wait()
            demo.stdout.close()
        self.assertEqual(demo.returncode, 0)
        for port in PORTS:
            self.assertFalse(port_accepts(port), f"port {port} still open after Ctrl-C")


if __name__ == "__main__":
    unittest.main()
