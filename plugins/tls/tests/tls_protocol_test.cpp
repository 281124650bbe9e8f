// Unit tests of the TLS plugin through its Protocol interface: rule keys, precedence, and the
// probe harness's contract checks on real and built hellos.
#include <doctest/doctest.h>

#include <fstream>
#include <iterator>

#include "hello_builder.hpp"
#include "configured.hpp"
#include "probe_harness.hpp"
#include "tls_protocol.hpp"

using namespace passthru;
using namespace passthru::tls::testing;

namespace {

tls::TlsProtocol configured(const std::vector<std::string>& keys, sdk::Diagnostics* out = nullptr) {
  return testing::configured<tls::TlsProtocol>(keys, out);
}

std::uint32_t rule_for(const tls::TlsProtocol& protocol, const HelloSpec& spec) {
  Bytes hello = build_hello(spec);
  auto v = protocol.identify({{hello.data(), hello.size()}, false, 16384});
  REQUIRE(v.kind == sdk::VerdictKind::Match);
  return v.rule;
}

}  // namespace

TEST_CASE("an exact name beats a wildcard, a wildcard beats ALPN, ALPN beats CATCHALL") {
  auto p = configured({"CATCHALL", "ALPN h2", "SNI *.example.org", "SNI www.example.org"});
  CHECK(rule_for(p, {{"www.example.org"}, {"h2"}}) == 3);
  CHECK(rule_for(p, {{"api.example.org"}, {"h2"}}) == 2);
  CHECK(rule_for(p, {{"other.test"}, {"h2"}}) == 1);
  CHECK(rule_for(p, {{"other.test"}, {"http/1.1"}}) == 0);
}

TEST_CASE("the longest wildcard wins, whatever the order of the rules") {
  auto p = configured({"SNI *.example.org", "SNI *.eu.example.org"});
  CHECK(rule_for(p, {{"a.eu.example.org"}, {}}) == 1);
  CHECK(rule_for(p, {{"a.us.example.org"}, {}}) == 0);
}

TEST_CASE("a wildcard does not match the bare domain") {
  auto p = configured({"SNI *.example.org"});
  CHECK(rule_for(p, {{"example.org"}, {}}) == sdk::kNoRule);
}

TEST_CASE("names compare case-insensitively with a trailing dot ignored, on both sides") {
  auto p = configured({"SNI Www.Example.COM."});
  CHECK(rule_for(p, {{"WWW.example.com"}, {}}) == 0);
  CHECK(rule_for(p, {{"www.example.com."}, {}}) == 0);
}

TEST_CASE("ALPN matches any offered protocol, the client's first preference first") {
  auto p = configured({"ALPN http/1.1", "ALPN h2"});
  CHECK(rule_for(p, {{"x.test"}, {"h2", "http/1.1"}}) == 1);
  CHECK(rule_for(p, {{"x.test"}, {"spdy/3", "http/1.1"}}) == 0);
}

TEST_CASE("a hello without SNI falls to CATCHALL, or to no rule without one") {
  CHECK(rule_for(configured({"SNI a.test", "CATCHALL"}), {{}, {}}) == 1);
  CHECK(rule_for(configured({"SNI a.test"}), {{}, {}}) == sdk::kNoRule);
}

TEST_CASE("the facts are the SNI, the offered list cleaned for the log, and the first protocol exactly as offered") {
  auto p = configured({"CATCHALL"});
  Bytes hello = build_hello({{"a.example.com"}, {"h2\x7f", "http/1.1"}});
  auto facts = p.identify({{hello.data(), hello.size()}, false, 16384}).facts;
  CHECK(facts.find(sdk::fact_key::kSni) == "a.example.com");
  CHECK(facts.find(sdk::fact_key::kAlpn) == "h2?,http/1.1");
  CHECK(facts.find(sdk::fact_key::kAlpnFirst) == "h2\x7f");
  CHECK(facts.kind(2) == sdk::FactKind::Wire);
}

TEST_CASE("a first ALPN protocol holding a NUL byte is not passed on, and the list still is logged") {
  auto p = configured({"CATCHALL"});
  Bytes hello = build_hello({{"a.example.com"}, {std::string("a\0b", 3), "h2"}});
  auto facts = p.identify({{hello.data(), hello.size()}, false, 16384}).facts;
  CHECK(facts.find(sdk::fact_key::kAlpn) == "a?b,h2");
  CHECK(facts.size() == 2);
}

TEST_CASE("bad rule keys are refused with their position and what to write") {
  sdk::Diagnostics d;
  configured({"SNI", "HOST a.test", "SNI a b", "SNI *", "SNI a.*.test", "SNI a..test", "SNI ok.test",
              "SNI OK.test"},
             &d);
  REQUIRE(d.all().size() == 7);
  CHECK(d.all()[0].where.line == 1);
  CHECK(d.all()[1].message.find("unknown matcher 'HOST'") != std::string::npos);
  CHECK(d.all()[6].message.find("already names") != std::string::npos);
}

TEST_CASE("the contract holds on every captured hello and on garbage") {
  auto p = configured({"SNI hello.example.test", "CATCHALL"});
  for (const char* name : {"openssl-3.0-s_client.bin", "chromium-156.bin", "curl-7.88-openssl.bin"}) {
    std::ifstream in(std::string(PLUGIN_TEST_DATA) + "/vectors/" + name, std::ios::binary);
    Bytes bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto report = testing::probe_every_prefix(p, {bytes.data(), bytes.size()}, 16384);
    CHECK_MESSAGE(report.violation.empty(), name << ": " << report.violation);
    CHECK(report.verdict.kind == sdk::VerdictKind::Match);
    CHECK(report.verdict.rule == 0);
    CHECK(report.verdict.facts.find(sdk::fact_key::kSni) == "hello.example.test");
  }
  Bytes garbage{0x16, 0x03, 0x01, 0x00, 0x10, 0x01, 0xFF, 0xFF, 0xFF};
  auto report = testing::probe_every_prefix(p, {garbage.data(), garbage.size()}, 16384, true);
  CHECK(report.violation.empty());
  CHECK(report.verdict.kind == sdk::VerdictKind::NoMatch);
}
