"""The command line: --version, --help, plugins that cannot be used named with the reason, and
an installed copy (cmake --install) that finds its own plugins."""

import os
import re
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import BINARY, BUILD  # noqa: E402

CONFIG = """
[servers."127.0.0.1:0".TLS]
"SNI a.example.com" = { action = "FORWARD", to_addr = "127.0.0.1:9001" }
"""


def run(*args, **kw):
    return subprocess.run([str(BINARY), *args], capture_output=True, text=True, timeout=30, **kw)


class CommandLine(unittest.TestCase):
    def test_version_and_help(self):
        r = run("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^passthru \d+\.\d+\.\d+")
        r = run("--help")
        self.assertEqual(r.returncode, 0)
        for option in ("--config", "--check", "--log-level", "--version"):
            self.assertIn(option, r.stdout)

    def test_a_misused_command_line_exits_2_with_the_reason(self):
        r = run("--no-such-option")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--no-such-option", r.stderr)
        r = run("-c", "x.json", "-t", "soon")
        self.assertEqual(r.returncode, 2)
        self.assertIn("-t takes seconds", r.stderr)

    def test_unusable_plugins_are_named_with_the_reason(self):
        with tempfile.TemporaryDirectory() as d:
            config = Path(d) / "c.toml"
            config.write_text(f'plugin_dir = "{BUILD / "fixtures"}"\n' + CONFIG)
            r = run("--check", "-c", str(config))
            self.assertEqual(r.returncode, 2)
            self.assertIn("c.toml:1:14: error: " + str(BUILD / "fixtures" / "wrong_abi.so") +
                          ": built against passthru SDK ABI 99, this passthru speaks ABI 2", r.stderr)
            self.assertIn("no_export.so: not a passthru plugin", r.stderr)
            self.assertIn("good.so: protocol 'TLS' is already provided by", r.stderr)

    def test_a_library_that_is_not_loadable_is_named_with_dlerror(self):
        with tempfile.TemporaryDirectory() as d:
            (Path(d) / "broken.so").write_bytes(b"not an ELF file" * 300)
            config = Path(d) / "c.toml"
            config.write_text('plugin_dir = "."\n' + CONFIG)
            r = run("--check", "-c", str(config))
            self.assertEqual(r.returncode, 2)
            self.assertIn("broken.so: cannot be loaded: ", r.stderr)
            self.assertIn("invalid ELF header", r.stderr)

    def test_out_of_descriptors_at_start_is_an_error_message_not_a_crash(self):
        # Too few descriptors for the workers' event loops: a message and exit 1, for every limit
        # up to one that lets all four start, never an abort.
        with tempfile.TemporaryDirectory() as folder:
            config = Path(folder) / "passthru.toml"
            config.write_text("workers = 4\n" + CONFIG)
            said = set()
            for limit in range(8, 40):
                try:
                    r = subprocess.run(["prlimit", f"--nofile={limit}:{limit}", str(BINARY), "-c", str(config)],
                                       capture_output=True, text=True, timeout=3)
                except subprocess.TimeoutExpired:
                    break  # it started, and runs until stopped: the limit is enough
                self.assertEqual(r.returncode, 1, f"limit {limit}: {r.returncode} {r.stderr}")
                m = re.search(r"passthru: (the open-files limit is|cannot start worker \d of 4|cannot listen)", r.stderr)
                self.assertTrue(m, f"limit {limit}: {r.stderr}")
                said.add(m.group(1)[:20])
            self.assertIn("cannot start worker ", said)  # the workers' own failure was reached

    def test_an_installed_copy_finds_its_installed_plugins(self):
        with tempfile.TemporaryDirectory() as prefix:
            subprocess.run(["cmake", "--install", str(BUILD), "--prefix", prefix], check=True, capture_output=True)
            config = Path(prefix) / "c.toml"
            config.write_text(CONFIG)
            installed = Path(prefix) / "bin" / "passthru"
            r = subprocess.run([str(installed), "--check", "-c", str(config)], capture_output=True, text=True,
                               timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(f"TLS from {os.path.realpath(prefix)}/lib", r.stdout)


if __name__ == "__main__":
    unittest.main()
