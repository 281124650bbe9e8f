"""Config files through the real binary: every invalid config in invalid/ stops with exactly
the messages of its .err file (file:line:column, exit 2), and every config a user can copy
(configs/) or that documents a valid form (valid/) passes --check. Each is TOML, or a passthru
(Go) JSON config (*.json), whose --check also prints a note where passthru's rules decide."""

import re
import subprocess
import sys
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration"))
from harness import BINARY, SOURCE  # noqa: E402


def configs_in(folder):
    return sorted(folder.glob("*.toml")) + sorted(folder.glob("*.json"))


def check(path, cwd=None):
    return subprocess.run([str(BINARY), "--check", "-c", str(path)], capture_output=True, text=True, cwd=cwd,
                          timeout=30)


class InvalidConfigs(unittest.TestCase):
    def test_each_invalid_config_gives_exactly_its_messages(self):
        files = configs_in(HERE / "invalid")
        self.assertGreater(len(files), 10)
        self.assertTrue(any(f.suffix == ".json" for f in files))
        for config in files:
            with self.subTest(config.name):
                r = check(config.name, cwd=HERE / "invalid")
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertEqual(r.stderr, config.with_suffix(".err").read_text())
                self.assertEqual(r.stdout, "")

    def test_a_missing_config_file_is_named(self):
        r = check("/nonexistent/passthru.toml")
        self.assertEqual(r.returncode, 2)
        self.assertIn("/nonexistent/passthru.toml: error: cannot read the config file", r.stderr)


class ValidConfigs(unittest.TestCase):
    def test_every_example_config_passes_check(self):
        files = configs_in(SOURCE / "configs") + configs_in(HERE / "valid")
        self.assertGreaterEqual(len(files), 3)
        self.assertTrue(any(f.suffix == ".json" for f in files))
        for config in files:
            with self.subTest(config.name):
                r = check(config)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn(": OK (", r.stdout)
                self.assertIn("TLS from ", r.stdout)
                # a TOML config has nothing to note; a JSON one may (passthru's rules where Go's were open)
                for line in r.stderr.splitlines():
                    self.assertRegex(line, rf"^{re.escape(str(config))}:\d+:\d+: note: ")


if __name__ == "__main__":
    unittest.main()
