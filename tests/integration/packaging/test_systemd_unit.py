"""configs/systemd/passthru.service: systemd-analyze verify finds nothing to say about it (it
exits 0 even on an unknown key, so its output is read too), and it checks the config before
starting and before each reload, reloads by SIGHUP, and runs as a dedicated user with one
capability and the usual hardening."""

import re
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import BINARY, SOURCE, seconds  # noqa: E402

UNIT = SOURCE / "configs" / "systemd" / "passthru.service"


def verify(text):
    """systemd-analyze verify on `text` as passthru.service, its binary pointed at this build's."""
    with tempfile.TemporaryDirectory() as d:
        unit = Path(d) / "passthru.service"
        unit.write_text(text.replace("/usr/bin/passthru", str(BINARY)))
        r = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)], capture_output=True, text=True,
                           timeout=seconds(60))
        return r.returncode, (r.stdout + r.stderr).strip()


class SystemdUnit(unittest.TestCase):
    def test_systemd_analyze_verify_has_nothing_to_say(self):
        code, said = verify(UNIT.read_text())
        self.assertEqual((code, said), (0, ""))

    def test_verify_speaks_up_on_a_mistake_so_silence_means_something(self):
        code, said = verify(UNIT.read_text().replace("ProtectSystem=", "ProtectSystm="))
        self.assertEqual(code, 0)
        self.assertIn("Unknown key 'ProtectSystm'", said)

    def test_it_checks_the_config_and_reloads_by_sighup(self):
        unit = UNIT.read_text()
        self.assertIn("\nExecStartPre=/usr/bin/passthru --check -c /etc/passthru/passthru.toml\n", unit)
        # A failed check fails the reload, and the signal is not sent.
        self.assertRegex(unit, r"\nExecReload=/usr/bin/passthru --check -c /etc/passthru/passthru.toml\n"
                               r"ExecReload=/bin/kill -HUP \$MAINPID\n")

    def test_it_runs_as_a_dedicated_user_with_one_capability_and_hardening(self):
        settings = dict(re.findall(r"^(\w+)=(.*)$", UNIT.read_text(), re.M))
        self.assertEqual(settings["User"], "passthru")
        self.assertEqual(settings["DynamicUser"], "yes")
        self.assertEqual(settings["AmbientCapabilities"], "CAP_NET_BIND_SERVICE")
        self.assertEqual(settings["CapabilityBoundingSet"], "CAP_NET_BIND_SERVICE")
        for key, value in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("PrivateTmp", "yes"),
                           ("ProtectHome", "yes"), ("PrivateDevices", "yes")):
            self.assertEqual(settings[key], value, key)


if __name__ == "__main__":
    unittest.main()
