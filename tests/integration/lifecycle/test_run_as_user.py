"""user and group: passthru binds and loads its plugins as root, then becomes that user and group
with CAP_NET_BIND_SERVICE alone (/proc/PID/status of every thread says so), and a SIGHUP reload
that adds a listener on a port below 1024 still opens it. A user or group that does not exist is
a config error at its line. The process part needs root; as another user it is skipped."""

import os
import re
import signal
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import (BINARY, Passthru, TcpServer, connect, echo_handler, echo_round, first_free_port,  # noqa: E402
                     seconds, wait_until)

CAP_NET_BIND_SERVICE = 1 << 10
NOBODY = 65534  # Debian's nobody and nogroup


def status(pid, task=None):
    path = f"/proc/{pid}/status" if task is None else f"/proc/{pid}/task/{task}/status"
    return dict(line.split(":\t", 1) for line in Path(path).read_text().splitlines() if ":\t" in line)


def check(config_text):
    with tempfile.TemporaryDirectory() as d:
        config = Path(d) / "c.toml"
        config.write_text(config_text)
        return subprocess.run([str(BINARY), "--check", "-c", str(config)], capture_output=True, text=True,
                              timeout=seconds(30))


LISTENER = """
[servers."127.0.0.1:0".CATCHALL]
CATCHALL = { action = "REJECT" }
"""


class RunAsUser(unittest.TestCase):
    @unittest.skipUnless(os.geteuid() == 0, "needs root: passthru gives up root here")
    def test_it_drops_to_the_user_and_a_reload_still_opens_a_port_below_1024(self):
        with TcpServer(echo_handler) as echo:
            first = f"""
user  = "nobody"
group = "nogroup"
[servers."127.0.0.1:0".CATCHALL]
CATCHALL = {{ action = "FORWARD", to_addr = "127.0.0.1:{echo.port}" }}
"""
            with Passthru(first, workers=2) as proxy:
                # The config is read again as nobody on reload: let nobody read it.
                os.chmod(proxy.dir.name, 0o755)
                os.chmod(proxy.path, 0o644)
                # The signal thread and two workers, started once "listening" is said.
                wait_until(lambda: len(os.listdir(f"/proc/{proxy.pid}/task")) >= 3, 5, "the worker threads")
                tasks = os.listdir(f"/proc/{proxy.pid}/task")
                for task in tasks:
                    s = status(proxy.pid, task)
                    self.assertEqual(s["Uid"].split(), [str(NOBODY)] * 4, f"task {task}")
                    self.assertEqual(s["Gid"].split(), [str(NOBODY)] * 4, f"task {task}")
                    self.assertEqual(s["Groups"].split(), [str(NOBODY)], f"task {task}")
                    self.assertEqual(int(s["CapEff"], 16), CAP_NET_BIND_SERVICE, f"task {task}")
                    self.assertEqual(int(s["CapPrm"], 16), CAP_NET_BIND_SERVICE, f"task {task}")
                    self.assertEqual(int(s["CapBnd"], 16), CAP_NET_BIND_SERVICE, f"task {task}")
                    self.assertEqual(s["NoNewPrivs"], "1", f"task {task}")
                self.assertIn("running as user nobody (uid 65534, gid 65534) with CAP_NET_BIND_SERVICE", proxy.log())
                with connect(proxy.port) as c:
                    self.assertEqual(echo_round(c, b"Xbefore"), b"Xbefore")

                low = first_free_port(range(1023, 600, -1))
                second = first + first.split("\n", 3)[3].replace("127.0.0.1:0", f"127.0.0.1:{low}")
                fresh = proxy.path.with_suffix(".new")
                fresh.write_text(second)
                os.chmod(fresh, 0o644)
                os.replace(fresh, proxy.path)
                before = proxy.log().count("reloaded:")
                os.kill(proxy.pid, signal.SIGHUP)
                wait_until(lambda: proxy.log().count("reloaded:") > before or "reload failed" in proxy.log(), 10,
                           "the reload")
                self.assertNotIn("reload failed", proxy.log())
                line = proxy.process.stdout.readline()
                self.assertIn(f"listening on 127.0.0.1:{low} ", line)
                with connect(low) as c:
                    self.assertEqual(echo_round(c, b"Xafter"), b"Xafter")
                self.assertEqual(status(proxy.pid)["Uid"].split()[0], str(NOBODY))

    def test_an_unknown_user_or_group_is_an_error_at_its_line(self):
        r = check('user = "no-such-user-passthru"\n' + LISTENER)
        self.assertEqual(r.returncode, 2)
        self.assertRegex(r.stderr, r"c\.toml:1:8: error: no such user 'no-such-user-passthru'")
        r = check('user = "nobody"\ngroup = "no-such-group-passthru"\n' + LISTENER)
        self.assertEqual(r.returncode, 2)
        self.assertRegex(r.stderr, r"c\.toml:2:9: error: no such group 'no-such-group-passthru'")
        r = check('group = "nogroup"\n' + LISTENER)
        self.assertEqual(r.returncode, 2)
        self.assertRegex(r.stderr, r"c\.toml:1:9: error: group needs user")
        r = check('user = 7\n' + LISTENER)
        self.assertRegex(r.stderr, r"c\.toml:1:8: error: user must be the name of a user")
        self.assertEqual(check('user = "nobody"\n' + LISTENER).returncode, 0)

    @unittest.skipIf(os.geteuid() == 0, "as root the drop works; this is what another user sees")
    def test_a_user_other_than_the_current_one_needs_root(self):
        with tempfile.TemporaryDirectory() as d:
            config = Path(d) / "c.toml"
            config.write_text('user = "nobody"\n' + LISTENER)
            r = subprocess.run([str(BINARY), "-c", str(config)], capture_output=True, text=True, timeout=seconds(30))
            self.assertEqual(r.returncode, 1)
            self.assertIn("needs passthru started as root", r.stderr)


if __name__ == "__main__":
    unittest.main()
