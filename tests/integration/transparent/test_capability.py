"""Without CAP_NET_ADMIN, transparent mode stops start-up with an error that names the
capability: at the transparent listener, or at the first FORWARD rule with a source. Run as
root, passthru is started without the capability (dropped from its bounding set by setpriv,
so the root it runs as does not get it back); run as another user, it has none to begin with."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import BINARY, seconds  # noqa: E402

# IP_TRANSPARENT is allowed with CAP_NET_RAW too: both go.
WITHOUT_CAPABILITY = ["setpriv", "--bounding-set=-net_admin,-net_raw"] if os.geteuid() == 0 else []


def start(config):
    """passthru on `config` without the capability: (exit status, stderr)."""
    with tempfile.TemporaryDirectory(prefix="passthru-test-") as folder:
        path = Path(folder) / "passthru.toml"
        path.write_text(config)
        r = subprocess.run([*WITHOUT_CAPABILITY, str(BINARY), "-c", str(path)], capture_output=True, text=True,
                           timeout=seconds(10))
        return r.returncode, r.stderr.replace(str(path), "passthru.toml")


class WithoutTheCapability(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if WITHOUT_CAPABILITY and not shutil.which("setpriv"):
            raise AssertionError("the setpriv command (Debian package util-linux) is needed to drop the capability")

    def test_a_transparent_listener_names_cap_net_admin(self):
        code, stderr = start("""
[servers."127.0.0.1:0"]
transparent = true
[servers."127.0.0.1:0".CATCHALL]
CATCHALL = { action = "FORWARD", to_addr = "ORIGINAL" }
""")
        self.assertEqual(code, 1, stderr)
        self.assertIn("passthru.toml:2:10: error: cannot listen on 127.0.0.1:0: transparent mode needs the "
                      "CAP_NET_ADMIN capability", stderr)

    def test_a_rule_with_a_source_names_cap_net_admin_at_the_rule(self):
        code, stderr = start("""
[servers."127.0.0.1:0"]
[servers."127.0.0.1:0".CATCHALL]
CATCHALL = { action = "FORWARD", to_addr = "127.0.0.1:9", source = "client" }
""")
        self.assertEqual(code, 1, stderr)
        self.assertIn("passthru.toml:4:68: error: source: transparent mode needs the CAP_NET_ADMIN capability", stderr)


if __name__ == "__main__":
    unittest.main()
