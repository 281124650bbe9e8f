// Unit tests of parse_proxy_header on the vectors of HAProxy's doc/proxy-protocol.txt and of
// HAProxy's own regression tests, written as commented hex, at every split, and on every
// malformed variant the spec says to abort.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <arpa/inet.h>

#include <string>
#include <vector>

#include "proxy_header.hpp"

using namespace passthru::proxy;
using Bytes = std::vector<std::uint8_t>;

namespace {

Bytes from_hex(const std::string& text) {
  Bytes out;
  for (std::size_t i = 0; i + 1 < text.size();) {
    if (text[i] == ' ') {
      ++i;
      continue;
    }
    out.push_back(static_cast<std::uint8_t>(std::stoi(text.substr(i, 2), nullptr, 16)));
    i += 2;
  }
  return out;
}

Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }

/// Parses a copy of `b` kept until the next call, since the TLVs view the input.
HeaderParse parse(const Bytes& b, bool eof = false, std::size_t capacity = 16384) {
  static Bytes kept;
  kept = b;
  return parse_proxy_header({kept.data(), kept.size()}, eof, capacity);
}

/// Every shorter prefix asks for more than it has; the whole is Complete, `length` long.
HeaderParse parse_every_prefix(const Bytes& input) {
  for (std::size_t n = 0; n < input.size(); ++n) {
    auto p = parse(Bytes(input.begin(), input.begin() + n));
    REQUIRE_MESSAGE(p.status == HeaderStatus::NeedMore, "prefix of " << n << " bytes");
    REQUIRE(p.need_bytes > n);
  }
  auto p = parse(input);
  REQUIRE(p.status == HeaderStatus::Complete);
  CHECK(p.header.length == input.size());
  return p;
}

std::string source_of(const ProxyHeader& h) {
  char text[INET6_ADDRSTRLEN];
  const auto& s = h.addresses.source;
  if (s.ss_family == AF_INET) {
    auto* v4 = reinterpret_cast<const sockaddr_in*>(&s);
    inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
    return std::string(text) + ":" + std::to_string(ntohs(v4->sin_port));
  }
  auto* v6 = reinterpret_cast<const sockaddr_in6*>(&s);
  inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
  return "[" + std::string(text) + "]:" + std::to_string(ntohs(v6->sin6_port));
}

const std::string kSig = "0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A ";  // §2.2 signature

}  // namespace

TEST_CASE("v1 TCP4, the spec's own example, at every split") {
  auto p = parse_every_prefix(text("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"));
  CHECK(p.header.version == 1);
  CHECK(source_of(p.header) == "192.168.0.1:56324");
}

TEST_CASE("v1 TCP6 and UNKNOWN") {
  auto p = parse_every_prefix(text("PROXY TCP6 2001:db8::1 2001:db8::2 56324 443\r\n"));
  CHECK(source_of(p.header) == "[2001:db8::1]:56324");
  auto unknown = parse_every_prefix(text("PROXY UNKNOWN\r\n"));
  CHECK_FALSE(unknown.header.addresses.present);
  auto unknown_long = parse(text("PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n"));
  CHECK(unknown_long.status == HeaderStatus::Complete);  // the rest of an UNKNOWN line is ignored
}

TEST_CASE("the bytes after a header are not part of it") {
  auto p = parse(text("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nGET / HTTP/1.1\r\n"));
  REQUIRE(p.status == HeaderStatus::Complete);
  CHECK(p.header.length == 32);
}

TEST_CASE("v2 PROXY TCP4 at every split") {
  auto p = parse_every_prefix(from_hex(kSig +
      "21 "              // version 2, PROXY
      "11 "              // TCP over IPv4
      "00 0C "           // 12 bytes follow
      "C0 A8 00 01 "     // 192.168.0.1
      "C0 A8 00 0B "     // 192.168.0.11
      "DC 04 01 BB"));   // 56324, 443
  CHECK(p.header.version == 2);
  CHECK(source_of(p.header) == "192.168.0.1:56324");
}

TEST_CASE("v2 LOCAL keeps the real addresses") {
  auto p = parse_every_prefix(from_hex(kSig + "20 00 00 00"));  // LOCAL, UNSPEC, no addresses
  CHECK(p.header.local);
  CHECK_FALSE(p.header.addresses.present);
}

TEST_CASE("v2 PROXY TCP6") {
  auto p = parse_every_prefix(from_hex(kSig + "21 21 00 24 "
      "20 01 0D B8 00 00 00 00 00 00 00 00 00 00 00 01 "  // 2001:db8::1
      "20 01 0D B8 00 00 00 00 00 00 00 00 00 00 00 02 "  // 2001:db8::2
      "DC 04 01 BB"));
  CHECK(source_of(p.header) == "[2001:db8::1]:56324");
}

TEST_CASE("v2 TLVs: ALPN and AUTHORITY") {
  auto p = parse_every_prefix(from_hex(kSig + "21 11 00 1F C0 A8 00 01 C0 A8 00 0B DC 04 01 BB "
      "01 00 02 68 32 "                                  // ALPN "h2"
      "02 00 0B 65 78 61 6D 70 6C 65 2E 63 6F 6D"));     // AUTHORITY "example.com"
  CHECK(p.header.alpn == "h2");
  CHECK(p.header.authority == "example.com");
}

TEST_CASE("v2 ALPN TLV may hold any bytes, as an ALPN protocol name may") {
  auto p = parse_every_prefix(from_hex(kSig + "21 11 00 12 C0 A8 00 01 C0 A8 00 0B DC 04 01 BB "
      "01 00 03 78 7F 32"));                              // ALPN "x", DEL, "2"
  CHECK(p.header.alpn == "x\x7f" "2");
}

TEST_CASE("v2 CRC32C is checked: right accepted, one bit off refused") {
  std::string header = kSig + "21 11 00 13 C0 A8 00 01 C0 A8 00 0B DC 04 01 BB 03 00 04 1C 1A E9 C6";
  auto p = parse_every_prefix(from_hex(header));
  CHECK(p.header.crc_checked);
  header.back() = '7';
  CHECK(parse(from_hex(header)).status == HeaderStatus::Malformed);
}

TEST_CASE("v2 NOOP, UNIQUE_ID (HAProxy's regression vector), SSL and NETNS") {
  CHECK(parse(from_hex(kSig + "21 11 00 11 C0 A8 00 01 C0 A8 00 0B DC 04 01 BB 04 00 02 00 00")).status ==
        HeaderStatus::Complete);
  auto id = parse(from_hex(kSig + "21 11 00 14 7F 00 00 01 7F 00 00 01 00 2A 05 39 05 00 05 31 32 33 34 35"));
  REQUIRE(id.status == HeaderStatus::Complete);
  CHECK(id.header.unique_id.size() == 5);
  auto ssl = parse(from_hex(kSig + "21 11 00 1A 7F 00 00 01 7F 00 00 01 00 2A 05 39 "
      "20 00 0B 01 00 00 00 00 21 00 03 31 2E 33"));  // SSL: client=1, verify=0, VERSION "1.3"
  REQUIRE(ssl.status == HeaderStatus::Complete);
  CHECK(ssl.header.ssl);
  auto netns = parse(from_hex(kSig + "21 11 00 12 7F 00 00 01 7F 00 00 01 00 2A 05 39 30 00 03 62 6C 75"));
  REQUIRE(netns.status == HeaderStatus::Complete);
  CHECK(netns.header.netns == "blu");
}

TEST_CASE("v2 UDP and UNIX headers are accepted without adopting their addresses") {
  auto udp = parse(from_hex(kSig + "21 12 00 0C C0 A8 00 01 C0 A8 00 0B DC 04 01 BB"));
  REQUIRE(udp.status == HeaderStatus::Complete);
  CHECK_FALSE(udp.header.addresses.present);
  Bytes unix_header = from_hex(kSig + "21 31 00 D8");
  unix_header.resize(16 + 216, 0);
  auto unix_stream = parse(unix_header);
  REQUIRE(unix_stream.status == HeaderStatus::Complete);
  CHECK_FALSE(unix_stream.header.addresses.present);
}

TEST_CASE("malformed v1 headers are refused") {
  for (const char* line : {"PROXY TCP4 192.168.000.1 192.168.0.11 56324 443\r\n",  // leading zeros
                           "PROXY TCP4 192.168.0.1  192.168.0.11 56324 443\r\n",   // double space
                           "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\n",      // lone LF
                           "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\rX",     // lone CR
                           "PROXY TCP4 192.168.0.1 192.168.0.11 65536 443\r\n",    // port
                           "PROXY TCP4 192.168.0.1 192.168.0.11 056 443\r\n",      // leading zero port
                           "PROXY TCP5 192.168.0.1 192.168.0.11 56324 443\r\n",
                           "PROXY TCP4 2001:db8::1 2001:db8::2 56324 443\r\n",     // TCP4 with IPv6
                           "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",
                           "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",                // a sixth field
                           "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"}) {
    CAPTURE(line);
    CHECK(parse(text(line)).status == HeaderStatus::Malformed);
  }
  CHECK(parse(text("PROXY UNKNOWN " + std::string(100, 'x'))).status == HeaderStatus::Malformed);  // no CRLF in 107
  CHECK(parse(text("proxy TCP4")).status == HeaderStatus::NotProxy);  // lower case
  CHECK(parse(text("PROPFIND / HTTP/1.1")).status == HeaderStatus::NotProxy);
}

TEST_CASE("malformed v2 headers are refused") {
  for (const std::string& rest : {std::string("11 11 00 0C C0 A8 00 01 C0 A8 00 0B DC 04 01 BB"),  // version 1
                                  std::string("22 11 00 0C C0 A8 00 01 C0 A8 00 0B DC 04 01 BB"),  // command 2
                                  std::string("21 41 00 0C C0 A8 00 01 C0 A8 00 0B DC 04 01 BB"),  // family 4
                                  std::string("21 13 00 0C C0 A8 00 01 C0 A8 00 0B DC 04 01 BB"),  // transport 3
                                  std::string("21 11 00 08 C0 A8 00 01 C0 A8 00 0B"),              // TCP4, len 8
                                  // a TLV running past the end (HAProxy regtest c3)
                                  std::string("21 11 00 14 7F 00 00 01 7F 00 00 01 00 2A 05 39 02 00 0A 31 32 33 34 35"),
                                  // two bytes left over
                                  std::string("21 11 00 0E C0 A8 00 01 C0 A8 00 0B DC 04 01 BB 04 00"),
                                  // a CRC TLV of 3 bytes
                                  std::string("21 11 00 12 C0 A8 00 01 C0 A8 00 0B DC 04 01 BB 03 00 03 00 00 00")}) {
    CAPTURE(rest);
    CHECK(parse(from_hex(kSig + rest)).status == HeaderStatus::Malformed);
  }
  // AUTHORITY over 255 bytes, UNIQUE_ID over 128 bytes.
  Bytes authority = from_hex(kSig + "21 11 01 0F C0 A8 00 01 C0 A8 00 0B DC 04 01 BB 02 01 00");
  authority.resize(16 + 0x10F, 'a');
  CHECK(parse(authority).status == HeaderStatus::Malformed);
  Bytes id = from_hex(kSig + "21 11 00 90 C0 A8 00 01 C0 A8 00 0B DC 04 01 BB 05 00 81");
  id.resize(16 + 0x90, 1);
  CHECK(parse(id).status == HeaderStatus::Malformed);
}

TEST_CASE("a bad signature is not PROXY, at the first byte that differs") {
  CHECK(parse(from_hex("0D 0A 0D 0A 01")).status == HeaderStatus::NotProxy);
  CHECK(parse(text("\r\n\r\nGET")).status == HeaderStatus::NotProxy);
  CHECK(parse(text("GET / HTTP/1.1")).status == HeaderStatus::NotProxy);
}

TEST_CASE("a v2 header longer than the buffer is TooLarge; EOF inside one is Truncated") {
  CHECK(parse(from_hex(kSig + "21 11 FF FF"), false, 4096).status == HeaderStatus::TooLarge);
  CHECK(parse(text("PROXY TCP4 1.2.3.4"), true).status == HeaderStatus::Truncated);
  CHECK(parse(from_hex(kSig + "21 11 00 0C C0 A8"), true).status == HeaderStatus::Truncated);
}
