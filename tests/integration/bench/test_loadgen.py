"""The benchmark's load generator against passthru, briefly: every mode runs and every
connection succeeds. (No timing is asserted here; tools/bench/run_bench.py measures speed.)"""

import json
import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import BUILD, SOURCE, Passthru, seconds  # noqa: E402

LOADGEN = BUILD / "loadgen"
HELLO = SOURCE / "plugins/tls/tests/vectors/chromium-156.bin"  # SNI hello.example.test


class LoadGenerator(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.backends = {}
        for mode in ("answer", "sink", "source"):
            p = subprocess.Popen([str(LOADGEN), "backend", "--listen", "127.0.0.1:0", "--mode", mode],
                                 stdout=subprocess.PIPE, text=True)
            cls.backends[mode] = (p, int(p.stdout.readline().split()[1]))
        rules = "".join(f'[servers."127.0.0.1:0".TLS]\n"SNI hello.example.test" = {{ action = "FORWARD", to_addr = "127.0.0.1:{port}" }}\n'
                        .replace('[servers."127.0.0.1:0"', f'[servers."127.0.0.{i + 1}:0"')
                        for i, (_, port) in enumerate(cls.backends.values()))
        try:
            cls.proxy = Passthru('log_level = "warn"\n' + rules, listeners=3)
        except BaseException:  # no tearDownClass then: stop the backends, which hold ctest's pipe
            for p, _ in cls.backends.values():
                p.terminate()
                p.wait()
            raise

    @classmethod
    def tearDownClass(cls):
        code = cls.proxy.stop()
        for p, _ in cls.backends.values():
            p.terminate()
            p.wait()
        assert code == 0, cls.proxy.log()

    def load(self, *args):
        r = subprocess.run([str(LOADGEN), *map(str, args)], capture_output=True, text=True, timeout=seconds(60))
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.strip().splitlines()

    def test_rate_mode_routes_every_connection(self):
        result = json.loads(self.load("rate", "--target", f"127.0.0.1:{self.proxy.ports[0]}", "--hello", HELLO,
                                      "--concurrency", 8, "--seconds", 1)[-1])
        self.assertGreater(result["connections"], 0)
        self.assertEqual(result["errors"], 0)

    def test_push_and_pull_move_bytes(self):
        for mode, port in (("push", self.proxy.ports[1]), ("pull", self.proxy.ports[2])):
            result = json.loads(self.load(mode, "--target", f"127.0.0.2:{port}" if mode == "push" else f"127.0.0.3:{port}",
                                          "--hello", HELLO, "--connections", 2, "--seconds", 1)[-1])
            self.assertGreater(result["bytes"], 0, mode)

    def test_tunnel_modes_move_bytes_through_one_tunnel(self):
        sink, source = self.backends["sink"][1], self.backends["source"][1]
        with Passthru(f"""
[servers."127.0.0.1:0".MPROXY]
"NAME bench.example" = {{ action = "FORWARD", to_addr = "127.0.0.1:{sink}" }}
CATCHALL = {{ action = "DEMUX" }}
[servers."127.0.0.2:0".MPROXY]
"NAME bench.example" = {{ action = "FORWARD", to_addr = "127.0.0.1:{source}" }}
CATCHALL = {{ action = "DEMUX" }}
""", listeners=2) as tunnel:
            for mode, target in (("tunnel-push", f"127.0.0.1:{tunnel.ports[0]}"), ("tunnel-pull", f"127.0.0.2:{tunnel.ports[1]}")):
                result = json.loads(self.load(mode, "--target", target, "--hello", HELLO, "--streams", 8, "--seconds", 1)[-1])
                self.assertGreater(result["bytes"], 1 << 20, mode)
            tunnel.wait_log(r"action=DEMUX streams=8 ")

    def test_idle_mode_holds_answered_connections(self):
        lines = self.load("idle", "--target", f"127.0.0.1:{self.proxy.ports[0]}", "--hello", HELLO,
                          "--connections", 50, "--hold", 1)
        self.assertEqual(lines[0], "ready 50")


if __name__ == "__main__":
    unittest.main()
