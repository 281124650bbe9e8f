// libFuzzer target for the M-PROXY decoder and detector. The input is a list of reads (a length
// byte, then that many bytes). The decoder must give the same messages, or the same error,
// whether it is fed those reads or the whole stream at once; the detector must keep the
// Protocol contract.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "configure.hpp"
#include "fuzz_reads.hpp"
#include "mproxy_protocol.hpp"
#include "passthru/wire/mproxy_codec.hpp"
#include "probe_harness.hpp"

namespace {

std::string decode_all(const std::vector<std::string>& chunks) {
  passthru::mproxy::Decoder decoder(4096);
  std::string out;
  for (const auto& chunk : chunks) {
    bool ok = decoder.feed(chunk, [&](passthru::mproxy::Message&& m) {
      out += std::string(passthru::mproxy::to_string(m.kind)) + "|" + m.meta.id() + "|" + m.body + "\n";
    });
    if (!ok) return out + "error:" + decoder.error();
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static passthru::sdk::Diagnostics ignored;
  static const auto* protocol = new passthru::mproxy::MproxyProtocol(
      passthru::testing::configure<passthru::mproxy::MproxyProtocol>({"NAME a.example.com", "SERVICE ssh", "CATCHALL"}, ignored));
  std::vector<std::uint8_t> stream;
  std::vector<std::string> chunks;
  passthru::testing::replay_reads(data, size, stream, [&](const std::vector<std::uint8_t>& so_far) {
    std::size_t before = 0;
    for (const auto& c : chunks) before += c.size();
    chunks.emplace_back(so_far.begin() + static_cast<std::ptrdiff_t>(before), so_far.end());
  });
  std::string whole(stream.begin(), stream.end());
  if (decode_all(chunks) != decode_all({whole})) {
    std::fprintf(stderr, "the decoder's messages depend on the chunking\n");
    std::abort();
  }
  if (stream.size() > 1024) stream.resize(1024);
  auto report = passthru::testing::probe_every_prefix(*protocol, {stream.data(), stream.size()}, 4096, true);
  if (!report.violation.empty()) {
    std::fprintf(stderr, "contract violation: %s\n", report.violation.c_str());
    std::abort();
  }
  return 0;
}
