// libFuzzer target for the REDIS detector (built with -DPASSTHRU_FUZZ=ON and clang; otherwise
// it replays fuzz/corpus under ctest). The input is a list of reads, each a length byte and that
// many bytes; the probe harness then checks the contract on the whole stream.
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "configure.hpp"
#include "fuzz_reads.hpp"
#include "probe_harness.hpp"
#include "redis_protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static passthru::sdk::Diagnostics ignored;
  static const auto* protocol = new redis::RedisProtocol(
      passthru::testing::configure<redis::RedisProtocol>({"COMMAND PING", "COMMAND AUTH", "CATCHALL"}, ignored));
  std::vector<std::uint8_t> stream;
  passthru::testing::replay_reads(data, size, stream, [&](const std::vector<std::uint8_t>& so_far) {
    (void)protocol->identify({{so_far.data(), so_far.size()}, false, 4096});
  });
  auto report = passthru::testing::probe_every_prefix(*protocol, {stream.data(), stream.size()}, 4096, true);
  if (!report.violation.empty()) {
    std::fprintf(stderr, "contract violation: %s\n", report.violation.c_str());
    std::abort();
  }
  return 0;
}
