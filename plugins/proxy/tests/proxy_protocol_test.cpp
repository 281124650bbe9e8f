// Unit tests of the PROXY plugin through its Protocol interface: FROM rules on the TCP peer,
// the header length and addresses handed to the host, and the contract on the spec's vectors.
#include <doctest/doctest.h>

#include <arpa/inet.h>

#include <string>

#include "configured.hpp"
#include "probe_harness.hpp"
#include "proxy_protocol.hpp"

using namespace passthru;

namespace {

proxy::ProxyProtocol configured(const std::vector<std::string>& keys, sdk::Diagnostics* out = nullptr) {
  return testing::configured<proxy::ProxyProtocol>(keys, out);
}

sockaddr_storage peer(const char* ip) {
  sockaddr_storage s{};
  if (inet_pton(AF_INET, ip, &reinterpret_cast<sockaddr_in*>(&s)->sin_addr) == 1) {
    s.ss_family = AF_INET;
  } else {
    REQUIRE(inet_pton(AF_INET6, ip, &reinterpret_cast<sockaddr_in6*>(&s)->sin6_addr) == 1);
    s.ss_family = AF_INET6;
  }
  return s;
}

const std::string kHeader = "PROXY TCP4 203.0.113.9 192.0.2.1 40000 443\r\nhello";

sdk::Verdict identify_from(const proxy::ProxyProtocol& p, const char* from) {
  auto address = peer(from);
  return p.identify({{reinterpret_cast<const std::uint8_t*>(kHeader.data()), kHeader.size()}, false, 16384,
                     reinterpret_cast<sockaddr*>(&address)});
}

}  // namespace

TEST_CASE("the longest FROM prefix that holds the peer wins, whatever the order") {
  auto p = configured({"FROM 10.0.0.0/8", "FROM 10.1.0.0/16", "FROM 10.1.2.3", "CATCHALL"});
  CHECK(identify_from(p, "10.1.2.3").rule == 2);
  CHECK(identify_from(p, "10.1.9.9").rule == 1);
  CHECK(identify_from(p, "10.200.0.1").rule == 0);
  CHECK(identify_from(p, "192.0.2.7").rule == 3);
}

TEST_CASE("IPv6 prefixes, and an IPv4 peer seen on an IPv6 socket") {
  auto p = configured({"FROM ::1/128", "FROM 127.0.0.0/8", "FROM 2001:db8::/32"});
  CHECK(identify_from(p, "::1").rule == 0);
  CHECK(identify_from(p, "::ffff:127.0.0.2").rule == 1);
  CHECK(identify_from(p, "2001:db8:1::5").rule == 2);
  CHECK(identify_from(p, "2001:db9::1").rule == sdk::kNoRule);
}

TEST_CASE("a Match says how long the header is and which addresses it carries") {
  auto p = configured({"FROM 127.0.0.1"});
  auto v = identify_from(p, "127.0.0.1");
  REQUIRE(v.kind == sdk::VerdictKind::Match);
  CHECK(v.consumed == kHeader.size() - 5);
  REQUIRE(v.adopted.present);
  char text[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&v.adopted.source)->sin_addr, text, sizeof text);
  CHECK(std::string(text) == "203.0.113.9");
  CHECK(v.facts.find("proxy") == "v1");
}

TEST_CASE("bad FROM keys are refused with what to write") {
  sdk::Diagnostics d;
  configured({"FROM", "FROM nope", "FROM 10.0.0.1/8", "FROM 10.0.0.0/33", "SNI a", "FROM 10.0.0.0/8", "FROM 10.0.0.0/8"}, &d);
  REQUIRE(d.all().size() == 6);
  CHECK(d.all()[2].message.find("write FROM 10.0.0.0/8") != std::string::npos);
  CHECK(d.all()[3].message.find("0 to 32") != std::string::npos);
  CHECK(d.all()[5].message.find("already names") != std::string::npos);
}

TEST_CASE("the contract holds on the spec's headers, with data after them") {
  auto p = configured({"FROM 127.0.0.1", "CATCHALL"});
  std::string v2 = std::string("\r\n\r\n\0\r\nQUIT\n", 12) + std::string("\x21\x11\x00\x0C\xC0\xA8\x00\x01\xC0\xA8\x00\x0B\xDC\x04\x01\xBB", 16) + "data";
  for (const std::string& input : {kHeader, v2, std::string("PROXY UNKNOWN\r\n")}) {
    auto address = peer("127.0.0.1");
    std::vector<std::uint8_t> bytes(input.begin(), input.end());
    sdk::ConnView view{{bytes.data(), bytes.size()}, false, 16384, reinterpret_cast<sockaddr*>(&address)};
    auto report = testing::probe_every_prefix(p, view.bytes, 16384);
    CHECK(report.violation.empty());
  }
}
