// Unit tests of parse_banner: captured OpenSSH and PuTTY banners at every prefix, the RFC 4253
// §4.2 forms, and bad lines.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <string>

#include "banner.hpp"

using namespace passthru::ssh;

namespace {

std::string read_vector(const std::string& name) {
  std::ifstream in(std::string(PLUGIN_TEST_DATA) + "/vectors/" + name, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "missing vector " << name);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

/// Parses a copy of `s` kept until the next call, since the versions view the input.
BannerParse parse(const std::string& s, bool eof = false) {
  static std::string kept;
  kept = s;
  return parse_banner({reinterpret_cast<const std::uint8_t*>(kept.data()), kept.size()}, eof);
}

}  // namespace

TEST_CASE("captured OpenSSH and PuTTY banners give their versions, at every prefix") {
  struct Case { const char* file; const char* software; const char* comments; };
  for (auto c : {Case{"openssh-9.2-ssh.txt", "OpenSSH_9.2p1", "Debian-2+deb12u10"},
                 Case{"putty-0.78-plink.txt", "PuTTY_Release_0.78", ""}}) {
    CAPTURE(c.file);
    std::string input = read_vector(c.file);
    for (std::size_t n = 0; n < input.size(); ++n) {
      auto p = parse(input.substr(0, n));
      REQUIRE(p.status == BannerStatus::NeedMore);
      REQUIRE(p.need_bytes > n);
    }
    auto p = parse(input);
    REQUIRE(p.status == BannerStatus::Complete);
    CHECK(p.banner.protocol_version == "2.0");
    CHECK(p.banner.software_version == c.software);
    CHECK(p.banner.comments == c.comments);
  }
}

TEST_CASE("the RFC 4253 forms: 1.99, a bare LF, key exchange bytes after the line") {
  CHECK(parse("SSH-1.99-x\r\n").banner.protocol_version == "1.99");
  CHECK(parse("SSH-2.0-x\n").status == BannerStatus::Complete);
  auto p = parse(std::string("SSH-2.0-Go\r\n\x00\x00\x04\x2c\x0a\x14", 18));
  REQUIRE(p.status == BannerStatus::Complete);
  CHECK(p.banner.software_version == "Go");
}

TEST_CASE("anything not starting with SSH- is NotSsh at the first differing byte") {
  CHECK(parse("S").status == BannerStatus::NeedMore);
  CHECK(parse("SSX").status == BannerStatus::NotSsh);
  CHECK(parse("GET / HTTP/1.1\r\n").status == BannerStatus::NotSsh);
  CHECK(parse("\x16\x03\x01").status == BannerStatus::NotSsh);
}

TEST_CASE("broken lines are malformed: no software version, control characters, over 255 bytes") {
  CHECK(parse("SSH-2.0\r\n").status == BannerStatus::Malformed);
  CHECK(parse("SSH-2.0-\r\n").status == BannerStatus::Malformed);
  CHECK(parse("SSH--x\r\n").status == BannerStatus::Malformed);
  CHECK(parse("SSH-2.0-a\x01b\r\n").status == BannerStatus::Malformed);
  CHECK(parse("SSH-2.0-x comment\x07\r\n").status == BannerStatus::Malformed);
  CHECK(parse("SSH-2.0-" + std::string(300, 'a')).status == BannerStatus::Malformed);
  CHECK(parse("SSH-2.0-" + std::string(246, 'a') + "\r\n").status == BannerStatus::Malformed);  // 256 with CR LF
  CHECK(parse("SSH-2.0-" + std::string(245, 'a') + "\r\n").status == BannerStatus::Complete);   // 255 with CR LF
}

TEST_CASE("EOF before the line ends is Truncated") {
  CHECK(parse("SSH", true).status == BannerStatus::Truncated);
  CHECK(parse("SSH-2.0-x", true).status == BannerStatus::Truncated);
}
