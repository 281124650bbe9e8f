"""passthru --check-plugin FILE.so [CORPUS_DIR]: the probe harness over a corpus, so that an
author learns that identify() depends on how TCP split the bytes before a client is misrouted."""

import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import BINARY, BUILD, SOURCE, seconds  # noqa: E402


def check_plugin(*args):
    return subprocess.run([str(BINARY), "--check-plugin", *map(str, args)], capture_output=True, text=True,
                          timeout=seconds(120))


class CheckPlugin(unittest.TestCase):
    def test_a_stable_plugin_holds_on_the_default_corpus(self):
        r = check_plugin(BUILD / "plugins" / "tls.so")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # The default corpus: the TLS, HTTP and SSH captures and the template's corpus.
        self.assertRegex(r.stdout, r"^TLS \(.*tls\.so\): (\d+) inputs fed byte by byte, without and with EOF: "
                                   r"7 matched, \d+ no match, 0 undecided; the contract held\n$")
        count = int(r.stdout.split(": ")[1].split()[0])
        vectors = sum(1 for d in ("tls", "http", "ssh") for f in (SOURCE / "plugins" / d / "tests" / "vectors").iterdir()
                      if f.suffix != ".md")
        template = len(list((SOURCE / "sdk" / "template" / "fuzz" / "corpus").iterdir()))
        self.assertEqual(count, vectors + template)

    def test_an_unstable_plugin_is_named_with_the_input_and_the_byte(self):
        r = check_plugin(BUILD / "fixtures" / "unstable" / "unstable.so", SOURCE / "plugins" / "ssh" / "tests" / "vectors")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("openssh-9.2-ssh.txt (", r.stdout)
        self.assertIn("bytes): the verdict changed at 4 bytes after it was given", r.stdout)
        self.assertIn("UNSTABLE (", r.stdout)
        self.assertIn("the contract broke 4 times", r.stdout)  # 2 captures, each without and with EOF

    def test_need_more_at_eof_is_reported(self):
        with tempfile.TemporaryDirectory() as d:
            (Path(d) / "three_bytes").write_bytes(b"abc")
            r = check_plugin(BUILD / "fixtures" / "at_eof" / "at_eof.so", d)
            self.assertEqual(r.returncode, 0, r.stdout)  # AT_EOF decides at EOF: it holds
            r = check_plugin(BUILD / "plugins" / "http.so", d)
            self.assertEqual(r.returncode, 0, r.stdout)

    def test_what_cannot_be_checked_exits_2(self):
        r = check_plugin(BUILD / "fixtures" / "no_export.so")
        self.assertEqual(r.returncode, 2)
        self.assertIn("not a passthru plugin", r.stderr)
        r = check_plugin(BUILD / "plugins" / "tls.so", "/nonexistent-corpus")
        self.assertEqual(r.returncode, 2)
        self.assertIn("/nonexistent-corpus: no such corpus folder or file", r.stderr)


if __name__ == "__main__":
    unittest.main()
