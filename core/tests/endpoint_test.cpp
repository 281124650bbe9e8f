// Unit tests of parse_endpoint: the address forms a config may use, and the messages for bad ones.
#include <doctest/doctest.h>

#include "config/endpoint.hpp"

using namespace passthru::core;

TEST_CASE("IPv4, bracketed IPv6 and host names parse with their port") {
  std::string why;
  auto v4 = parse_endpoint("10.0.0.5:443", true, PortRule::NonZero, why);
  REQUIRE(v4);
  CHECK(v4->is_literal);
  CHECK(v4->to_string() == "10.0.0.5:443");
  auto v6 = parse_endpoint("[::1]:8443", true, PortRule::NonZero, why);
  REQUIRE(v6);
  CHECK(v6->address.ss_family == AF_INET6);
  CHECK(v6->to_string() == "[::1]:8443");
  auto name = parse_endpoint("backend.internal:8443", true, PortRule::NonZero, why);
  REQUIRE(name);
  CHECK_FALSE(name->is_literal);
}

TEST_CASE("bad addresses are refused with a reason") {
  std::string why;
  CHECK_FALSE(parse_endpoint("10.0.0.5", true, PortRule::NonZero, why));
  CHECK(why.find("no port") != std::string::npos);
  CHECK_FALSE(parse_endpoint("10.0.0.5:0", true, PortRule::NonZero, why));
  CHECK_FALSE(parse_endpoint("10.0.0.5:65536", true, PortRule::NonZero, why));
  CHECK_FALSE(parse_endpoint("::1:443", true, PortRule::NonZero, why));
  CHECK(why.find("brackets") != std::string::npos);
  CHECK_FALSE(parse_endpoint("[nope]:443", true, PortRule::NonZero, why));
  CHECK_FALSE(parse_endpoint("bad name:443", true, PortRule::NonZero, why));
  CHECK_FALSE(parse_endpoint("example.com:443", false, PortRule::AllowZero, why));
  CHECK(why.find("must be an IP address") != std::string::npos);
  CHECK(parse_endpoint("0.0.0.0:0", false, PortRule::AllowZero, why));
}

TEST_CASE("an address is written as a.b.c.d:port or [v6]:port") {
  std::string why;
  for (const char* text : {"0.0.0.0:0", "255.255.255.255:65535", "10.20.3.4:80", "127.0.0.1:9", "[::1]:443",
                           "[2001:db8::5]:8443"}) {
    auto endpoint = parse_endpoint(text, false, PortRule::AllowZero, why);
    REQUIRE(endpoint);
    CHECK(format_address(reinterpret_cast<const sockaddr*>(&endpoint->address)) == text);
  }
  sockaddr none{};
  CHECK(format_address(&none) == "?");
}
