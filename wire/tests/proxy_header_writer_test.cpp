// Unit tests of write_proxy_header: byte for byte against the vectors of HAProxy's
// proxy-protocol.txt (§2.1 and §2.2 examples) and the ones HAProxy 2.6 was seen to accept.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string>

#include "passthru/wire/proxy_header_writer.hpp"

using namespace passthru::wire;

namespace {

/// "192.168.0.1:56324" or "[2001:db8::1]:56324" as a socket address.
sockaddr_storage address(std::string text) {
  sockaddr_storage out{};
  auto colon = text.rfind(':');
  auto port = htons(static_cast<std::uint16_t>(std::stoul(text.substr(colon + 1))));
  text.resize(colon);
  if (text.front() == '[') {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&out);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = port;
    REQUIRE(inet_pton(AF_INET6, text.substr(1, text.size() - 2).c_str(), &v6->sin6_addr) == 1);
  } else {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&out);
    v4->sin_family = AF_INET;
    v4->sin_port = port;
    REQUIRE(inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1);
  }
  return out;
}

std::string hex(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : bytes) {
    if (!out.empty()) out += ' ';
    out += kDigits[c >> 4];
    out += kDigits[c & 0x0F];
  }
  return out;
}

std::string write(ProxySend send, const char* from, const char* to, ProxyTlvs tlvs = {}) {
  auto source = address(from);
  auto destination = address(to);
  return write_proxy_header(send, reinterpret_cast<sockaddr*>(&source), reinterpret_cast<sockaddr*>(&destination), tlvs);
}

}  // namespace

TEST_CASE("v1 TCP4 is the spec's own example") {
  CHECK(write({ProxyVersion::V1}, "192.168.0.1:56324", "192.168.0.11:443") ==
        "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n");
}

TEST_CASE("v1 TCP6 writes the compressed addresses") {
  CHECK(write({ProxyVersion::V1}, "[2001:db8::1]:56324", "[2001:db8::2]:443") ==
        "PROXY TCP6 2001:db8::1 2001:db8::2 56324 443\r\n");
}

TEST_CASE("mixed families send v1 UNKNOWN and v2 LOCAL without addresses") {
  CHECK(write({ProxyVersion::V1}, "192.168.0.1:1", "[::1]:2") == "PROXY UNKNOWN\r\n");
  CHECK(hex(write({ProxyVersion::V2}, "192.168.0.1:1", "[::1]:2")) == "0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A 20 00 00 00");
}

TEST_CASE("v2 TCP4 is byte for byte the 28-byte vector") {
  CHECK(hex(write({ProxyVersion::V2}, "192.168.0.1:56324", "192.168.0.11:443")) ==
        "0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A 21 11 00 0C C0 A8 00 01 C0 A8 00 0B DC 04 01 BB");
}

TEST_CASE("v2 TCP6 is byte for byte the 52-byte vector") {
  CHECK(hex(write({ProxyVersion::V2}, "[2001:db8::1]:56324", "[2001:db8::2]:443")) ==
        "0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A 21 21 00 24 "
        "20 01 0D B8 00 00 00 00 00 00 00 00 00 00 00 01 "
        "20 01 0D B8 00 00 00 00 00 00 00 00 00 00 00 02 DC 04 01 BB");
}

TEST_CASE("v2 with ALPN h2 and AUTHORITY example.com is the 47-byte vector") {
  CHECK(hex(write({ProxyVersion::V2}, "192.168.0.1:56324", "192.168.0.11:443", {"example.com", "h2", ""})) ==
        "0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A 21 11 00 1F C0 A8 00 01 C0 A8 00 0B DC 04 01 BB "
        "01 00 02 68 32 02 00 0B 65 78 61 6D 70 6C 65 2E 63 6F 6D");
}

TEST_CASE("v2 with CRC32C is the 35-byte vector HAProxy accepts") {
  CHECK(hex(write({ProxyVersion::V2, true}, "192.168.0.1:56324", "192.168.0.11:443")) ==
        "0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A 21 11 00 13 C0 A8 00 01 C0 A8 00 0B DC 04 01 BB 03 00 04 1C 1A E9 C6");
}

TEST_CASE("v2 UNIQUE_ID is added only when asked for") {
  std::string with = write({ProxyVersion::V2, false, true}, "127.0.0.1:42", "127.0.0.1:1337", {"", "", "12345"});
  CHECK(hex(with) == "0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A 21 11 00 14 7F 00 00 01 7F 00 00 01 00 2A 05 39 "
                     "05 00 05 31 32 33 34 35");
  CHECK(write({ProxyVersion::V2}, "127.0.0.1:42", "127.0.0.1:1337", {"", "", "12345"}).size() == 28);
}
