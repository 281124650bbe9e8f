"""Every TOML example in the README passes passthru --check as written, as a new user would try
it: each ```toml block is saved to a file of its own and checked with the built plugins. The
one placeholder, the folder of the reader's own copy of the template plugin, is pointed at the
template plugin this tree builds (tests/CMakeLists.txt)."""

import re
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import BINARY, BUILD, SOURCE, seconds  # noqa: E402

TEMPLATE_PLACEHOLDER = "/home/me/redis-plugin/build/plugins"


class ReadmeExamples(unittest.TestCase):
    def test_every_toml_example_passes_check(self):
        blocks = re.findall(r"^```toml\n(.*?)^```", (SOURCE / "README.md").read_text(), re.M | re.S)
        self.assertGreaterEqual(len(blocks), 3)
        for number, block in enumerate(blocks, 1):
            with self.subTest(example=number, first_line=block.splitlines()[0]):
                with tempfile.TemporaryDirectory() as d:
                    config = Path(d) / "example.toml"
                    config.write_text(block.replace(TEMPLATE_PLACEHOLDER, str(BUILD / "fixtures" / "template")))
                    r = subprocess.run([str(BINARY), "--check", "-c", str(config)], capture_output=True,
                                       text=True, timeout=seconds(30))
                    self.assertEqual(r.returncode, 0, f"README example {number}:\n{block}\n{r.stderr}")


if __name__ == "__main__":
    unittest.main()
