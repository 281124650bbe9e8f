// libFuzzer target for the TLS detector. The input is a list of reads: each read is one length
// byte then that many bytes, as TCP might deliver them. Every read is fed to identify() the way
// the host does, and the probe harness checks the contract on the whole input.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "configure.hpp"
#include "fuzz_reads.hpp"
#include "probe_harness.hpp"
#include "tls_protocol.hpp"

namespace {

const passthru::tls::TlsProtocol& protocol() {
  static passthru::sdk::Diagnostics ignored;
  static auto* instance = new passthru::tls::TlsProtocol(passthru::testing::configure<passthru::tls::TlsProtocol>(
      {"SNI hello.example.test", "SNI *.example.org", "ALPN h2", "CATCHALL"}, ignored));
  return *instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::uint8_t> stream;
  std::size_t capacity = 4096;
  passthru::testing::replay_reads(data, size, stream, [&](const std::vector<std::uint8_t>& so_far) {
    (void)protocol().identify({{so_far.data(), so_far.size()}, false, capacity});
  });
  if (stream.size() > 1024) stream.resize(1024);  // keep the every-prefix check quick
  auto report = passthru::testing::probe_every_prefix(protocol(), {stream.data(), stream.size()}, capacity, true);
  if (!report.violation.empty()) {
    std::fprintf(stderr, "contract violation: %s\n", report.violation.c_str());
    std::abort();
  }
  return 0;
}
