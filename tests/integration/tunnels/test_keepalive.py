"""A tunnel link whose far end vanishes without a word (a NAT that forgot the mapping, a host
switched off) is found dead by TCP keepalive and dialled again. Both passthru instances run in a
network namespace the test makes, where an nftables rule drops every packet of the link, as a
vanished peer would leave it: no FIN, no reset. With keepalive_ms = 1000 the dialling side
declares the link lost (ETIMEDOUT) after about 2 s of silence, and once the rule is gone, connects again.
Without keepalive it would hold the dead link for good."""

import os
import re
import shutil
import subprocess
import sys
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


def can_run():
    return os.geteuid() == 0 and shutil.which("ip") and shutil.which("nft") and shutil.which("ss")


@unittest.skipUnless(can_run(), "needs root, ip, nft and ss (tools/setup.sh installs them)")
class Keepalive(unittest.TestCase):
    def setUp(self):
        self.ns = f"pt-keepalive-{os.getpid()}"
        run("ip", "netns", "add", self.ns)
        self.addCleanup(run, "ip", "netns", "del", self.ns)
        run("ip", "-n", self.ns, "link", "set", "lo", "up")
        inside = ["ip", "netns", "exec", self.ns]
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


if __name__ == "__main__":
    unittest.main()
