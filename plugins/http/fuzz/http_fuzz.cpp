// libFuzzer target for the HTTP detector. The input is a list of reads: each read is one length
// byte then that many bytes. Every read is fed to identify() the way the host does, and the
// probe harness checks the Protocol contract on the whole input, with and without HOST rules.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "http_protocol.hpp"
#include "configure.hpp"
#include "fuzz_reads.hpp"
#include "probe_harness.hpp"

namespace {

const passthru::http::HttpProtocol& configured(bool with_hosts) {
  using passthru::http::HttpProtocol;
  static passthru::sdk::Diagnostics ignored;
  static auto* hosts = new HttpProtocol(passthru::testing::configure<HttpProtocol>(
      {"HOST a.example.test", "HOST *.example.org", "HOST [::1]", "PATH /api", "H2C", "CATCHALL"}, ignored));
  static auto* paths = new HttpProtocol(passthru::testing::configure<HttpProtocol>({"PATH /api", "PATH /"}, ignored));
  return with_hosts ? *hosts : *paths;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::uint8_t> stream;
  constexpr std::size_t kCapacity = 4096;
  passthru::testing::replay_reads(data, size, stream, [&](const std::vector<std::uint8_t>& so_far) {
    (void)configured(true).identify({{so_far.data(), so_far.size()}, false, kCapacity});
  });
  if (stream.size() > 1024) stream.resize(1024);  // keep the every-prefix check quick
  for (bool with_hosts : {true, false}) {
    auto report = passthru::testing::probe_every_prefix(configured(with_hosts), {stream.data(), stream.size()},
                                                        kCapacity, true);
    if (!report.violation.empty()) {
      std::fprintf(stderr, "contract violation: %s\n", report.violation.c_str());
      std::abort();
    }
  }
  return 0;
}
