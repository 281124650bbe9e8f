// libFuzzer target for the SSH detector. The input is a list of reads (a length byte, then that
// many bytes); each is fed to identify() and the probe harness checks the contract on the whole.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "configure.hpp"
#include "fuzz_reads.hpp"
#include "probe_harness.hpp"
#include "ssh_protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static passthru::sdk::Diagnostics ignored;
  static const auto* protocol = new passthru::ssh::SshProtocol(
      passthru::testing::configure<passthru::ssh::SshProtocol>({"VERSION OpenSSH_*", "VERSION *Pu?TY*", "CATCHALL"}, ignored));
  std::vector<std::uint8_t> stream;
  passthru::testing::replay_reads(data, size, stream, [&](const std::vector<std::uint8_t>& so_far) {
    (void)protocol->identify({{so_far.data(), so_far.size()}, false, 4096});
  });
  if (stream.size() > 1024) stream.resize(1024);
  auto report = passthru::testing::probe_every_prefix(*protocol, {stream.data(), stream.size()}, 4096, true);
  if (!report.violation.empty()) {
    std::fprintf(stderr, "contract violation: %s\n", report.violation.c_str());
    std::abort();
  }
  return 0;
}
