"""cpack -G DEB: passthru_<version>_amd64.deb, unpacked into a throwaway root with dpkg -x. From
there the shipped config passes --check with the shipped plugins, --version runs, passthru(8)
holds every option of --help and the README's config keys, the unit verifies with the shipped
binary and man page, the template builds against the root's CMake package, Depends names the
package of every library the binary and plugins link, and lintian reports no error."""

import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import BINARY, BUILD, SOURCE, seconds  # noqa: E402


def run(*args, env=None):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=seconds(600),
                       env=None if env is None else {**os.environ, **env})
    assert r.returncode == 0, f"{' '.join(map(str, args))} exited {r.returncode}:\n{r.stdout}\n{r.stderr}"
    return r.stdout + r.stderr


class Deb(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.scratch = tempfile.TemporaryDirectory(prefix="passthru-deb-")
        scratch = Path(cls.scratch.name)
        cls.version = run(BINARY, "--version").split()[1]
        run("cpack", "-G", "DEB", "--config", BUILD / "CPackConfig.cmake", "-B", scratch / "out")
        cls.deb = scratch / "out" / f"passthru_{cls.version}_amd64.deb"
        cls.root = scratch / "root"
        run("dpkg", "-x", cls.deb, cls.root)

    @classmethod
    def tearDownClass(cls):
        cls.scratch.cleanup()

    def test_it_holds_binary_plugins_sdk_config_unit_and_man_page(self):
        files = set(re.findall(r" \./(\S+)$", run("dpkg-deb", "-c", self.deb), re.M))
        for path in ("usr/bin/passthru", "usr/lib/passthru/plugins/tls.so", "usr/lib/passthru/plugins/http.so",
                     "usr/lib/passthru/plugins/ssh.so", "usr/lib/passthru/plugins/proxy.so",
                     "usr/lib/passthru/plugins/mproxy.so", "usr/include/passthru/sdk/protocol.hpp",
                     "usr/include/passthru/sdk/sdk_hash.hpp", "usr/include/passthru/testing/probe_harness.hpp",
                     "usr/lib/cmake/passthru/passthru-config.cmake", "usr/lib/cmake/passthru/PassthruPlugin.cmake",
                     "etc/passthru/passthru.toml", "lib/systemd/system/passthru.service",
                     "usr/share/man/man8/passthru.8.gz", "usr/share/doc/passthru/copyright"):
            self.assertIn(path, files)
        control = Path(self.scratch.name) / "control"
        run("dpkg-deb", "-e", self.deb, control)
        self.assertEqual((control / "conffiles").read_text(), "/etc/passthru/passthru.toml\n")

    def test_depends_names_the_package_of_every_library_linked(self):
        depends = run("dpkg-deb", "-f", self.deb, "Depends")
        linked = set()
        for elf in [self.root / "usr/bin/passthru", *(self.root / "usr/lib/passthru/plugins").glob("*.so")]:
            linked |= set(re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", run("readelf", "-d", elf)))
        self.assertIn("libuv.so.1", linked)
        multiarch = run("dpkg-architecture", "-qDEB_HOST_MULTIARCH").strip()
        for library in linked:
            # The package holding it for this architecture (libc6, not libc6-i386's /lib32 copy).
            owners = [line.split(":")[0] for line in run("dpkg", "-S", f"*/{library}").splitlines()
                      if line.endswith(f"/{multiarch}/{library}")]
            self.assertEqual(len(set(owners)), 1, f"{library}: {owners}")
            owner = owners[0]
            # The package, or a name it provides for its ABI (libspdlog1.10 provides libspdlog1.10-fmt9).
            names = [owner] + [n.split()[0] for n in run("dpkg-query", "-W", "-f=${Provides}", owner).split(",") if n.strip()]
            self.assertTrue(any(re.search(rf"(^|, ){re.escape(n)}( \(|,|$)", depends) for n in names),
                            f"{library} is {owner}'s ({names}); Depends: {depends}")

    def test_the_shipped_config_checks_and_version_runs_from_the_root(self):
        passthru = self.root / "usr/bin/passthru"
        said = run(passthru, "--check", "-c", self.root / "etc/passthru/passthru.toml")
        self.assertIn(f"TLS from {os.path.realpath(self.root)}/usr/lib/passthru/plugins/tls.so", said)
        self.assertTrue(run(passthru, "--version").startswith(f"passthru {self.version}\nSDK ABI 2, "))

    def test_the_man_page_says_what_help_and_the_readme_say(self):
        page_gz = self.root / "usr/share/man/man8/passthru.8.gz"
        self.assertEqual(page_gz.read_bytes()[4:8], b"\0\0\0\0")  # gzip -n: no time stamp
        page = run("man", "-l", page_gz, env={"MANWIDTH": "200", "MAN_KEEP_FORMATTING": "0"})
        page = re.sub(r".\x08", "", page)
        for option in re.findall(r"^  (-\S+)", run(BINARY, "--help"), re.M):
            for name in option.split(","):
                self.assertIn(name.split("=")[0], page.replace("\u2010", "-"))
        readme = (SOURCE / "README.md").read_text().split("## The config\n", 1)[1].split("\n## ", 1)[0]
        for key in re.findall(r"^(\w+)\s*=", readme, re.M):
            self.assertIn(key, page)
        warnings = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z"], input=gzip.decompress(page_gz.read_bytes()),
                                  capture_output=True, timeout=seconds(60))
        self.assertEqual(warnings.stderr, b"")

    def test_the_shipped_unit_verifies_with_the_shipped_binary_and_man_page(self):
        unit = (self.root / "lib/systemd/system/passthru.service").read_text()
        copy = Path(self.scratch.name) / "passthru.service"
        copy.write_text(unit.replace("/usr/bin/passthru", str(self.root / "usr/bin/passthru")))
        said = run("systemd-analyze", "verify", copy, env={"MANPATH": str(self.root / "usr/share/man")})
        self.assertEqual(said.strip(), "")

    def test_a_plugin_builds_against_the_roots_cmake_package(self):
        project = Path(self.scratch.name) / "redis-plugin"
        shutil.copytree(SOURCE / "sdk" / "template", project)
        said = run("cmake", "-S", project, "-B", project / "build", f"-DCMAKE_PREFIX_PATH={self.root}/usr",
                   "-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF")
        self.assertIn(f"Passthru_DIR:PATH={self.root}/usr/lib/cmake/passthru",
                      (project / "build" / "CMakeCache.txt").read_text(), said)
        run("cmake", "--build", project / "build", "-j2", "--target", "redis")
        said = run(self.root / "usr/bin/passthru", "--check-plugin", project / "build/plugins/redis.so")
        self.assertIn("the contract held", said)

    def test_lintian_reports_no_error(self):
        r = subprocess.run(["lintian", str(self.deb)], capture_output=True, text=True, timeout=seconds(600))
        errors = [line for line in r.stdout.splitlines() if line.startswith("E:")]
        self.assertEqual(errors, [], r.stdout)
        self.assertNotIn("E:", r.stderr)


if __name__ == "__main__":
    unittest.main()
