"""A tunnel link whose far end vanishes without a word (a NAT that forgot the mapping, a host
switched off) is found dead by TCP keepalive. Both passthru instances run in a network namespace
the test makes, where an nftables rule drops every packet of the link, as a vanished peer would
leave it: no FIN, no reset.
- The dialling side (keepalive_ms = 1000) declares the link lost (ETIMEDOUT) after about 2 s of
  silence, and once the rule is gone, connects again.
- The accepting side (the DEMUX rule's keepalive_ms = 1000) ends the dead tunnel the same way, and
  the reverse tunnel it registered goes with it: clients for its names fall to the CATCHALL
  (fallback=no_tunnel) instead of being sent into a dead link.
Without keepalive either side would hold the dead link for good."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import Passthru, seconds, wait_until  # noqa: E402

OUTER_PORT = 4443  # inside the test's own namespace: nothing else listens there

OUTER = f"""
[servers."127.0.0.1:{OUTER_PORT}".MPROXY]
CATCHALL = {{ action = "DEMUX" }}
"""

INNER = f"""
[tunnels.home]
connect = "127.0.0.1:{OUTER_PORT}"
keepalive_ms = 1000
reconnect_min_ms = 100
reconnect_max_ms = 500
[tunnels.home.CATCHALL]
CATCHALL = {{ action = "REJECT" }}
[servers."127.0.0.1:0"]
[servers."127.0.0.1:0".CATCHALL]
CATCHALL = {{ action = "REJECT" }}
"""

DROP = f"""
table inet passthru_keepalive_test {{
  chain input {{
    type filter hook input priority 0; policy accept;
    tcp dport {OUTER_PORT} drop
    tcp sport {OUTER_PORT} drop
  }}
}}
"""


def run(*argv, stdin=None):
    subprocess.run(argv, input=stdin, text=True, check=True, capture_output=True)


def own_namespace(test, name):
    """A network namespace for `test`, deleted after it; returns the command prefix that runs inside it."""
    run("ip", "netns", "add", name)
    test.addCleanup(run, "ip", "netns", "del", name)
    run("ip", "-n", name, "link", "set", "lo", "up")
    return ["ip", "netns", "exec", name]


def can_run():
    return os.geteuid() == 0 and shutil.which("ip") and shutil.which("nft") and shutil.which("ss")


@unittest.skipUnless(can_run(), "needs root, ip, nft and ss (tools/setup.sh installs them)")
class Keepalive(unittest.TestCase):
    def setUp(self):
        self.ns = f"pt-keepalive-{os.getpid()}"
        inside = own_namespace(self, self.ns)
        self.outer = self.enterContext(Passthru(OUTER, workers=1, wrapper=inside))
        self.inner = self.enterContext(Passthru(INNER, workers=1, wrapper=inside))

    def links(self):
        """The inner's end of the link, as `ss` shows it: its timers included."""
        out = subprocess.run(["ip", "netns", "exec", self.ns, "ss", "-tno", "state", "established",
                              f"( dport = :{OUTER_PORT} )"], capture_output=True, text=True).stdout
        return [line for line in out.splitlines()[1:] if line.strip()]

    def test_a_link_whose_packets_vanish_is_lost_and_dialled_again(self):
        wait_until(lambda: self.links(), seconds(10), "the link to be up")
        # The kernel probes it: a keepalive timer of at most a second, not the 2 hours by default.
        wait_until(lambda: any(re.search(r"timer:\(keepalive,(\d+ms|1(\.\d+)?sec)", l) for l in self.links()),
                   seconds(5), "a keepalive timer on the link")

        run("ip", "netns", "exec", self.ns, "nft", "-f", "-", stdin=DROP)
        # Probes after 1 s idle, 1 s apart; nothing back for 2 s: lost.
        self.inner.wait_log(r"tunnel=home to 127\.0\.0\.1:4443 lost: \S+ \(ETIMEDOUT", seconds(20))

        run("ip", "netns", "exec", self.ns, "nft", "delete", "table", "inet", "passthru_keepalive_test")
        self.inner.wait_log(r"tunnel=home connected to 127\.0\.0\.1:4443 again", seconds(10))


TOKEN = "tok-keepalive-7c2e9b41d0"

REVERSE_OUTER = f"""
[servers."127.0.0.1:{OUTER_PORT}".MPROXY]
CATCHALL = {{ action = "DEMUX", tokens_file = "TOKENS", keepalive_ms = 1000 }}
[servers."127.0.0.1:{OUTER_PORT}".TLS]
"SNI app.test" = {{ action = "MUX", tunnel = "home" }}
[servers."127.0.0.1:{OUTER_PORT}".CATCHALL]
CATCHALL = {{ action = "REJECT" }}
"""

REVERSE_INNER = f"""
[tunnels.home]
connect = "127.0.0.1:{OUTER_PORT}"
token_file = "TOKEN"
keepalive_ms = 0
[tunnels.home.CATCHALL]
CATCHALL = {{ action = "REJECT" }}
[servers."127.0.0.1:0"]
[servers."127.0.0.1:0".CATCHALL]
CATCHALL = {{ action = "REJECT" }}
"""


@unittest.skipUnless(can_run(), "needs root, ip, nft and ss (tools/setup.sh installs them)")
class AcceptedTunnelKeepalive(unittest.TestCase):
    def setUp(self):
        self.inside = own_namespace(self, f"pt-keepalive-outer-{os.getpid()}")
        self.dir = self.enterContext(tempfile.TemporaryDirectory(prefix="passthru-keepalive-"))
        (Path(self.dir) / "tokens").write_text(f"{TOKEN} home app.test\n")
        (Path(self.dir) / "token").write_text(TOKEN)
        outer = REVERSE_OUTER.replace("TOKENS", str(Path(self.dir) / "tokens"))
        inner = REVERSE_INNER.replace("TOKEN", str(Path(self.dir) / "token"))
        self.outer = self.enterContext(Passthru(outer, workers=1, wrapper=self.inside))
        self.inner = self.enterContext(Passthru(inner, workers=1, wrapper=self.inside))

    def outer_end(self):
        """The outer's end of the link, as `ss` shows it (timers included): [] until it is up."""
        out = subprocess.run([*self.inside, "ss", "-tno", "state", "established", f"( sport = :{OUTER_PORT} )"],
                             capture_output=True, text=True).stdout
        return [line for line in out.splitlines()[1:] if line.strip()]

    def test_a_dead_tunnel_is_ended_and_its_registration_goes(self):
        self.outer.wait_log(r"tunnel=home authenticated from 127\.0\.0\.1:\d+ and registered", seconds(10))
        wait_until(lambda: any(re.search(r"timer:\(keepalive,(\d+ms|1(\.\d+)?sec)", l) for l in self.outer_end()),
                   seconds(5), "a keepalive timer on the outer's end of the link")
        inner_port = re.search(r"127\.0\.0\.1:(\d+)\s", self.outer_end()[0].split(f":{OUTER_PORT}", 1)[1]).group(1)
        run(*self.inside, "nft", "-f", "-", stdin=f"""
table inet passthru_keepalive_test {{
  chain input {{
    type filter hook input priority 0; policy accept;
    tcp sport {inner_port} drop
    tcp dport {inner_port} drop
  }}
}}
""")
        # The DEMUX connection's own line: the link timed out, after about 2 s of silence.
        self.outer.wait_log(r"action=DEMUX streams=0 [^\n]*error=ETIMEDOUT", seconds(20))
        # Its registration went with it: a client for app.test gets the CATCHALL, not a dead tunnel.
        subprocess.run([*self.inside, "openssl", "s_client", "-connect", f"127.0.0.1:{OUTER_PORT}", "-servername",
                        "app.test"], input="", capture_output=True, text=True, timeout=seconds(20))
        self.outer.wait_log(r"fallback=no_tunnel sni=app\.test action=REJECT", seconds(10))


if __name__ == "__main__":
    unittest.main()
