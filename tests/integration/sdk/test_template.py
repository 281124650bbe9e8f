"""A plugin built out of tree, as a third party would: passthru installed into a prefix
(cmake --install), sdk/template/ copied elsewhere and built against that prefix alone through
find_package(Passthru), its doctest test (the installed probe harness) and fuzz corpus run by
ctest, then loaded through plugin_dir and routing real connections by their first Redis command."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import BUILD, SOURCE, Passthru, TcpServer, connect, echo_handler, recv_all, seconds  # noqa: E402


def run(*args, **kw):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=seconds(600), **kw)
    assert r.returncode == 0, f"{' '.join(map(str, args))} exited {r.returncode}:\n{r.stdout}\n{r.stderr}"
    return r


def resp(*words):
    """A command as redis-cli sends it: a RESP array of bulk strings."""
    out = b"*%d\r\n" % len(words)
    for w in words:
        out += b"$%d\r\n%s\r\n" % (len(w), w)
    return out


class TemplateOutOfTree(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.scratch = tempfile.TemporaryDirectory(prefix="passthru-template-")
        root = Path(cls.scratch.name)
        cls.prefix = root / "prefix"
        run("cmake", "--install", BUILD, "--prefix", cls.prefix)
        cls.project = root / "redis-plugin"
        shutil.copytree(SOURCE / "sdk" / "template", cls.project)
        cls.build = cls.project / "build"
        # The prefix alone: no package registry, no source tree, compilers' defaults.
        cls.configure = run("cmake", "-S", cls.project, "-B", cls.build, f"-DCMAKE_PREFIX_PATH={cls.prefix}",
                            "-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF", "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON",
                            "-DCMAKE_BUILD_TYPE=RelWithDebInfo")
        run("cmake", "--build", cls.build, "-j2")

    @classmethod
    def tearDownClass(cls):
        cls.scratch.cleanup()

    def test_it_is_built_from_the_installed_prefix_only(self):
        cache = (self.build / "CMakeCache.txt").read_text()
        self.assertIn(f"Passthru_DIR:PATH={self.prefix}/lib/cmake/passthru", cache)
        commands = json.loads((self.build / "compile_commands.json").read_text())
        self.assertGreaterEqual(len(commands), 4)
        for c in commands:
            self.assertNotIn(str(SOURCE), c["command"])
            self.assertNotIn(str(BUILD), c["command"])
            self.assertIn(f"-isystem {self.prefix}/include", c["command"])
        plugin = self.build / "plugins" / "redis.so"
        self.assertTrue(plugin.exists())
        # Hidden visibility: the plugin exports its two aliases, not Boost's or the SDK's symbols.
        symbols = run("nm", "-D", "--defined-only", plugin).stdout
        exported = [line.split()[-1] for line in symbols.splitlines() if " T " in line or " D " in line
                    or " B " in line or " R " in line or " V " in line or " W " in line or " u " in line]
        self.assertEqual(sorted(s for s in exported if not s.startswith("_")), ["passthru_plugin_abi", "passthru_plugin_v2"],
                         symbols)

    def test_its_tests_and_fuzz_corpus_run_under_ctest(self):
        r = run("ctest", "--test-dir", self.build, "--output-on-failure")
        self.assertIn("100% tests passed, 0 tests failed out of 2", r.stdout)
        self.assertIn("redis.unit", r.stdout)
        self.assertIn("redis.fuzz_corpus", r.stdout)

    def test_check_plugin_from_the_installed_passthru_finds_its_contract_held(self):
        r = subprocess.run([str(self.prefix / "bin" / "passthru"), "--check-plugin", str(self.build / "plugins" / "redis.so")],
                           capture_output=True, text=True, timeout=seconds(60))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"REDIS \(.*redis\.so\): \d+ inputs fed byte by byte.*the contract held")

    def test_it_loads_through_plugin_dir_and_routes_by_the_first_command(self):
        with TcpServer(echo_handler) as backend:
            config = f"""
plugin_dir = "{self.build / 'plugins'}"
[servers."127.0.0.1:0"]
timeout_ms = 2000
[servers."127.0.0.1:0".REDIS]
"COMMAND PING" = {{ action = "FORWARD", to_addr = "127.0.0.1:{backend.port}" }}
CATCHALL       = {{ action = "REJECT" }}
"""
            with Passthru(config) as p:
                ping = resp(b"PING")
                with connect(p.port) as s:
                    s.sendall(ping[:5])  # split where TCP might: the decision waits for the name
                    s.sendall(ping[5:])
                    s.shutdown(1)
                    self.assertEqual(recv_all(s), ping)  # through the backend, which echoes
                with connect(p.port) as s:
                    s.sendall(resp(b"FLUSHALL"))
                    s.shutdown(1)
                    self.assertEqual(recv_all(s), b"")  # REJECT: closed, nothing relayed
                lines = p.wait_log(r'protocol=REDIS rule="?COMMAND PING"? command=PING .*end=done', 5)
                self.assertEqual(len(lines), 1)
                p.wait_log(r"protocol=REDIS rule=\"?CATCHALL\"? command=FLUSHALL action=REJECT", 5)


if __name__ == "__main__":
    unittest.main()
