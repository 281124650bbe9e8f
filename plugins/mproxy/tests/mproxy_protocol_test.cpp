// Unit tests of the M-PROXY detector through its Protocol interface.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "configured.hpp"
#include "mproxy_protocol.hpp"
#include "passthru/wire/mproxy_codec.hpp"
#include "probe_harness.hpp"

using namespace passthru;

namespace {

mproxy::MproxyProtocol configured(const std::vector<std::string>& keys, sdk::Diagnostics* out = nullptr) {
  return testing::configured<mproxy::MproxyProtocol>(keys, out);
}

std::string first_message(const std::string& name, const std::string& service, const std::string& port) {
  std::string error;
  return *mproxy::pack(mproxy::Kind::Connection, {"IPv4", "10.0.0.1", "5555", service, port, name}, "", false, error);
}

std::uint32_t rule_for(const mproxy::MproxyProtocol& p, const std::string& bytes) {
  auto v = p.identify({{reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()}, false, 16384});
  REQUIRE(v.kind == sdk::VerdictKind::Match);
  return v.rule;
}

/// What select_rule() answers for a stream header's fields, each left out when empty as
/// identify() leaves it out.
std::optional<std::uint32_t> rule_from_facts(const mproxy::MproxyProtocol& p, std::string_view name,
                                             std::string_view service, std::string_view port) {
  sdk::Facts facts;
  if (!name.empty()) facts.add("name", name);
  if (!service.empty()) facts.add("service", service);
  if (!port.empty()) facts.add("serviceport", port);
  return p.select_rule(facts);
}

}  // namespace

TEST_CASE("NAME beats SERVICE beats SERVICEPORT beats CATCHALL") {
  auto p = configured({"CATCHALL", "SERVICEPORT 443", "SERVICE https", "NAME *.example.com", "NAME www.example.com"});
  CHECK(rule_for(p, first_message("www.example.com", "https", "443")) == 4);
  CHECK(rule_for(p, first_message("a.example.com", "https", "443")) == 3);
  CHECK(rule_for(p, first_message("other.test", "https", "443")) == 2);
  CHECK(rule_for(p, first_message("other.test", "ssh", "443")) == 1);
  CHECK(rule_for(p, first_message("other.test", "ssh", "22")) == 0);
}

TEST_CASE("the contract holds on a first header, and other bytes are no match at once") {
  auto p = configured({"NAME a.example.com", "CATCHALL"});
  std::string bytes = first_message("a.example.com", "https", "443") + "more";
  auto report = testing::probe_every_prefix(p, {reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()}, 16384);
  CHECK(report.violation.empty());
  CHECK(report.verdict.rule == 0);
  std::string tls = "\x16\x03\x01";
  CHECK(p.identify({{reinterpret_cast<const std::uint8_t*>(tls.data()), 1}, false, 16384}).kind == sdk::VerdictKind::NoMatch);
  std::string bad = "\xFE\x05" "ab,cd";
  CHECK(p.identify({{reinterpret_cast<const std::uint8_t*>(bad.data()), bad.size()}, false, 16384}).kind ==
        sdk::VerdictKind::NoMatch);
}

TEST_CASE("bad rule keys are refused") {
  sdk::Diagnostics d;
  configured({"NAME", "HOST a", "SERVICEPORT https", "SERVICE https", "SERVICE https"}, &d);
  REQUIRE(d.all().size() == 4);
  CHECK(d.all()[2].message.find("port number") != std::string::npos);
  CHECK(d.all()[3].message.find("already names") != std::string::npos);
}

TEST_CASE("select_rule chooses from a stream's facts by each matcher, with the same precedence") {
  auto p = configured({"CATCHALL", "SERVICEPORT 443", "SERVICE https", "NAME *.example.com", "NAME www.example.com"});
  CHECK(rule_from_facts(p, "www.example.com", "https", "443") == 4u);
  CHECK(rule_from_facts(p, "WWW.Example.com.", "", "") == 4u);  // names compare as host names
  CHECK(rule_from_facts(p, "a.example.com", "https", "443") == 3u);
  CHECK(rule_from_facts(p, "other.test", "https", "443") == 2u);
  CHECK(rule_from_facts(p, "other.test", "ssh", "443") == 1u);
  CHECK(rule_from_facts(p, "", "", "443") == 1u);
  CHECK(rule_from_facts(p, "other.test", "ssh", "22") == 0u);
  CHECK(rule_from_facts(p, "", "", "") == 0u);
}

TEST_CASE("select_rule without a CATCHALL says no rule for facts nothing names") {
  auto p = configured({"NAME a.example.com", "SERVICE ssh"});
  CHECK(rule_from_facts(p, "b.example.com", "https", "443") == sdk::kNoRule);
  CHECK(rule_from_facts(p, "", "", "") == sdk::kNoRule);
  CHECK(rule_from_facts(p, "", "ssh", "") == 1u);
}

TEST_CASE("select_rule on the facts identify() gives chooses the rule identify() chose") {
  auto p = configured({"SERVICEPORT 8443", "SERVICE https", "NAME *.example.com", "NAME www.example.com"});
  for (const auto& [name, service, port] : std::vector<std::array<std::string, 3>>{
           {"www.example.com", "https", "443"}, {"a.example.com", "tcp", "22"}, {"other.test", "https", "1"},
           {"other.test", "tcp", "8443"}, {"other.test", "tcp", "22"}, {"", "", ""}}) {
    std::string bytes = first_message(name, service, port);
    auto v = p.identify({{reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()}, false, 16384});
    REQUIRE(v.kind == sdk::VerdictKind::Match);
    CHECK(p.select_rule(v.facts) == v.rule);
  }
}
