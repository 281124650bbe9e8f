// Unit tests of the SSH plugin through its Protocol interface: VERSION globs, precedence that
// ignores file order, bad keys, and the contract on captured banners.
#include <doctest/doctest.h>

#include <fstream>
#include <iterator>

#include "configured.hpp"
#include "probe_harness.hpp"
#include "ssh_protocol.hpp"

using namespace passthru;

namespace {

ssh::SshProtocol configured(const std::vector<std::string>& keys, sdk::Diagnostics* out = nullptr) {
  return testing::configured<ssh::SshProtocol>(keys, out);
}

std::uint32_t rule_for(const ssh::SshProtocol& protocol, const std::string& banner) {
  auto v = protocol.identify({{reinterpret_cast<const std::uint8_t*>(banner.data()), banner.size()}, false, 16384});
  REQUIRE(v.kind == sdk::VerdictKind::Match);
  return v.rule;
}

}  // namespace

TEST_CASE("globs match the software version") {
  CHECK(ssh::glob_matches("OpenSSH_*", "OpenSSH_9.2p1"));
  CHECK(ssh::glob_matches("PuTTY_Release_0.7?", "PuTTY_Release_0.78"));
  CHECK(ssh::glob_matches("*", ""));
  CHECK(ssh::glob_matches("*a*b*", "xaxxbx"));
  CHECK_FALSE(ssh::glob_matches("OpenSSH_*", "openssh_9"));
  CHECK_FALSE(ssh::glob_matches("PuTTY_?", "PuTTY_"));
}

TEST_CASE("the most specific glob wins, whatever the order of the file") {
  auto a = configured({"VERSION *", "VERSION OpenSSH_*", "VERSION OpenSSH_9.2*", "CATCHALL"});
  auto b = configured({"CATCHALL", "VERSION OpenSSH_9.2*", "VERSION OpenSSH_*", "VERSION *"});
  CHECK(rule_for(a, "SSH-2.0-OpenSSH_9.2p1\r\n") == 2);
  CHECK(rule_for(b, "SSH-2.0-OpenSSH_9.2p1\r\n") == 1);
  CHECK(rule_for(a, "SSH-2.0-OpenSSH_8.4\r\n") == 1);
  CHECK(rule_for(a, "SSH-2.0-PuTTY_Release_0.78\r\n") == 0);
}

TEST_CASE("no VERSION match: CATCHALL, or no rule") {
  CHECK(rule_for(configured({"VERSION dropbear*", "CATCHALL"}), "SSH-2.0-OpenSSH_9.2\r\n") == 1);
  CHECK(rule_for(configured({"VERSION dropbear*"}), "SSH-2.0-OpenSSH_9.2\r\n") == sdk::kNoRule);
}

TEST_CASE("bad rule keys are refused") {
  sdk::Diagnostics d;
  configured({"VERSION", "SNI a", "VERSION a b", "VERSION x", "VERSION x"}, &d);
  REQUIRE(d.all().size() == 4);
  CHECK(d.all()[0].message.find("'VERSION glob'") != std::string::npos);
  CHECK(d.all()[3].message.find("already names") != std::string::npos);
}

TEST_CASE("the contract holds on captured banners") {
  auto p = configured({"VERSION OpenSSH_*", "CATCHALL"});
  for (const char* name : {"openssh-9.2-ssh.txt", "putty-0.78-plink.txt"}) {
    std::ifstream in(std::string(PLUGIN_TEST_DATA) + "/vectors/" + name, std::ios::binary);
    std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto report = testing::probe_every_prefix(p, {bytes.data(), bytes.size()}, 16384);
    CHECK_MESSAGE(report.violation.empty(), name << ": " << report.violation);
    CHECK(report.verdict.kind == sdk::VerdictKind::Match);
  }
}
