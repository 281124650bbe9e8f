"""passthru explain: for each captured ClientHello in the repository (plugins/tls/tests/vectors,
the same bytes as the shared vectors/clienthello) and a hex-dumped PROXY + HTTP capture, the
explanation is exactly its golden file: each protocol's verdict with the bytes it needed, the
facts, the deciding rule with its file:line, why a rule did not apply, and that the decision is
the same at every cut into 7-byte segments. Regenerate a golden file by running the command
printed in a failure, after checking the new output by eye."""

import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import BINARY, SOURCE, seconds  # noqa: E402

HERE = Path(__file__).resolve().parent
VECTORS = SOURCE / "plugins/tls/tests/vectors"

# golden file name -> the arguments after "passthru explain -c explain.toml"
CASES = {f"{v.stem}.txt": ["--from", "192.0.2.7", "--split", "7", f"../../../plugins/tls/tests/vectors/{v.name}"]
         for v in sorted(VECTORS.glob("*.bin"))}
CASES["openssl-from-outside.txt"] = ["--from", "198.51.100.1", "--split", "7",
                                     "../../../plugins/tls/tests/vectors/openssl-3.0-s_client.bin"]
CASES["proxied_http.txt"] = ["--listener", "127.0.0.1:8443", "--from", "10.0.0.1", "--hex", "--split", "5",
                             "proxied_http.hex"]


def run(args):
    return subprocess.run([str(BINARY), "explain", "-c", "explain.toml", *args], cwd=HERE, capture_output=True,
                          text=True, timeout=seconds(30))


class Explain(unittest.TestCase):
    def test_every_vector_has_a_golden_explanation(self):
        self.assertEqual(len([c for c in CASES if c.endswith(".txt")]), 9)
        for vector in VECTORS.glob("*.bin"):
            self.assertIn(f"{vector.stem}.txt", CASES)

    def test_each_explanation_is_its_golden_file(self):
        for golden, args in CASES.items():
            with self.subTest(golden):
                r = run(args)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stdout, (HERE / "golden" / golden).read_text(),
                                 f"passthru explain -c explain.toml {' '.join(args)} > golden/{golden}")

    def test_stdin_and_an_unknown_listener(self):
        r = subprocess.run([str(BINARY), "explain", "-c", "explain.toml", "--from", "192.0.2.7", "-"], cwd=HERE,
                           input=b"SSH-2.0-OpenSSH_9.2\r\n", capture_output=True, timeout=seconds(30))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"decision: the listener's CATCHALL, for no_protocol (explain.toml:19): REJECT", r.stdout)
        r = run(["--listener", "0.0.0.0:1", "proxied_http.hex"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("no listener '0.0.0.0:1'", r.stderr)


if __name__ == "__main__":
    unittest.main()
