"""What the SDK says to a plugin built the wrong way: -std=c++17 gets one line saying the SDK
needs C++20; a plugin built with the C++ library's debug mode (-D_GLIBCXX_DEBUG, another layout of
std::string and std::vector) is refused at load with a message naming it; --version shows the
SDK ABI and the fingerprint a plugin must share."""

import re
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import BINARY, BUILD, SOURCE, seconds  # noqa: E402

PLUGIN = """#include "passthru/sdk/export.hpp"
class Tiny final : public passthru::sdk::Protocol {
 public:
  std::string_view name() const noexcept override { return "TINY"; }
  void apply_rules(std::span<const passthru::sdk::RuleKey>, passthru::sdk::Diagnostics&) override {}
  passthru::sdk::Verdict identify(const passthru::sdk::ConnView&) const noexcept override {
    return passthru::sdk::Verdict::no_match(passthru::sdk::NoMatchReason::NotThisProtocol);
  }
};
PASSTHRU_EXPORT_PROTOCOL(Tiny)
"""


def compile_plugin(standard):
    with tempfile.TemporaryDirectory() as d:
        source = Path(d) / "tiny.cpp"
        source.write_text(PLUGIN)
        return subprocess.run(["c++", f"-std={standard}", "-fsyntax-only", "-DBOOST_DLL_USE_STD_FS",
                               f"-I{SOURCE / 'sdk' / 'include'}", f"-I{BUILD / 'generated' / 'sdk'}", str(source)],
                              capture_output=True, text=True, timeout=seconds(120))


class BuildChecks(unittest.TestCase):
    def test_cxx17_gets_one_line_saying_the_sdk_needs_cxx20(self):
        r = compile_plugin("c++17")
        self.assertNotEqual(r.returncode, 0)
        errors = [line for line in r.stderr.splitlines() if "error" in line]
        self.assertEqual(len(errors), 1, r.stderr)
        self.assertIn("passthru SDK: needs C++20 or later; build with -std=c++20", errors[0])

    def test_cxx20_builds(self):
        r = compile_plugin("c++20")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_a_plugin_built_with_the_debug_standard_library_is_refused_by_name(self):
        with tempfile.TemporaryDirectory() as d:
            config = Path(d) / "c.toml"
            config.write_text(f'plugin_dir = "{BUILD / "fixtures" / "debug_stdlib"}"\n'
                              '[servers."127.0.0.1:0".CATCHALL]\nCATCHALL = { action = "REJECT" }\n')
            r = subprocess.run([str(BINARY), "--check", "-c", str(config)], capture_output=True, text=True,
                               timeout=seconds(30))
            self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
            self.assertIn("debug_stdlib.so: built with the C++ library's debug mode (-D_GLIBCXX_DEBUG), which "
                          "changes the layout of std::string and std::vector; passthru was not: rebuild the plugin "
                          "without -D_GLIBCXX_DEBUG", r.stderr)

    def test_version_shows_the_sdk_abi_and_fingerprint(self):
        r = subprocess.run([str(BINARY), "--version"], capture_output=True, text=True, timeout=seconds(30))
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^passthru \d+\.\d+\.\d+\nSDK ABI 2, build fingerprint "
                                   r"stdlib=libstdc\+\+/cxx11abi=1;stdlib-mode=release;sdk-headers=[0-9a-f]{16}\n$")


if __name__ == "__main__":
    unittest.main()
