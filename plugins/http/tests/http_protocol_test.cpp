// Unit tests of the HTTP plugin through its Protocol interface: rule keys, precedence, and the
// probe harness's contract checks on captured requests.
#include <doctest/doctest.h>

#include <fstream>
#include <iterator>

#include "http_protocol.hpp"
#include "configured.hpp"
#include "probe_harness.hpp"

using namespace passthru;

namespace {

http::HttpProtocol configured(const std::vector<std::string>& keys, sdk::Diagnostics* out = nullptr) {
  return testing::configured<http::HttpProtocol>(keys, out);
}

std::uint32_t rule_for(const http::HttpProtocol& protocol, const std::string& request) {
  auto v = protocol.identify({{reinterpret_cast<const std::uint8_t*>(request.data()), request.size()}, false, 16384});
  REQUIRE(v.kind == sdk::VerdictKind::Match);
  return v.rule;
}

std::string get(const std::string& target, const std::string& host) {
  return "GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n";
}

}  // namespace

TEST_CASE("exact host beats wildcard, wildcard beats path, path beats CATCHALL") {
  auto p = configured({"CATCHALL", "PATH /api", "HOST *.example.org", "HOST www.example.org"});
  CHECK(rule_for(p, get("/api/x", "www.example.org")) == 3);
  CHECK(rule_for(p, get("/api/x", "app.example.org")) == 2);
  CHECK(rule_for(p, get("/api/x", "other.test")) == 1);
  CHECK(rule_for(p, get("/web", "other.test")) == 0);
}

TEST_CASE("the longest PATH prefix wins") {
  auto p = configured({"PATH /", "PATH /api/v2", "PATH /api"});
  CHECK(rule_for(p, "GET /api/v2/users HTTP/1.1\r\n\r\n") == 1);
  CHECK(rule_for(p, "GET /api/v1 HTTP/1.1\r\n\r\n") == 2);
  CHECK(rule_for(p, "GET /index.html HTTP/1.1\r\n\r\n") == 0);
}

TEST_CASE("an IPv6 literal host matches its HOST rule") {
  auto p = configured({"HOST [2001:db8::1]", "CATCHALL"});
  CHECK(rule_for(p, get("/", "[2001:DB8::1]:8080")) == 0);
  CHECK(rule_for(p, get("/", "[2001:db8::2]")) == 1);
}

TEST_CASE("a request with two different hosts is never routed by either") {
  auto p = configured({"HOST a.test", "HOST b.test", "CATCHALL"});
  CHECK(rule_for(p, "GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n") == 2);
}

TEST_CASE("a request with two different hosts has its host flagged ambiguous, with no value") {
  std::string request = "GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n";
  auto p = configured({"HOST a.test", "CATCHALL"});
  auto v = p.identify({{reinterpret_cast<const std::uint8_t*>(request.data()), request.size()}, false, 16384});
  REQUIRE(v.facts.size() == 2);
  CHECK(v.facts.find(sdk::fact_key::kMethod) == "GET");
  CHECK(std::string_view(v.facts.key(1)) == sdk::fact_key::kHost);
  CHECK(v.facts.kind(1) == sdk::FactKind::Ambiguous);
  CHECK(v.facts.value(1).empty());
}

TEST_CASE("h2c goes to the H2C rule, else to CATCHALL") {
  std::string preface("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
  CHECK(rule_for(configured({"H2C", "CATCHALL"}), preface) == 0);
  CHECK(rule_for(configured({"HOST a.test", "CATCHALL"}), preface) == 1);
}

TEST_CASE("no Host: the HTTP CATCHALL, or no rule without one") {
  CHECK(rule_for(configured({"HOST a.test", "CATCHALL"}), "GET / HTTP/1.0\r\n\r\n") == 1);
  CHECK(rule_for(configured({"HOST a.test"}), "GET / HTTP/1.0\r\n\r\n") == sdk::kNoRule);
}

TEST_CASE("bad rule keys are refused with what to write") {
  sdk::Diagnostics d;
  configured({"HOST", "SNI a.test", "HOST a.test:80", "PATH api", "HOST [::1]:80", "HOST a.test", "HOST A.test"}, &d);
  REQUIRE(d.all().size() == 6);
  CHECK(d.all()[1].message.find("unknown matcher 'SNI'") != std::string::npos);
  CHECK(d.all()[2].message.find("without a port") != std::string::npos);
  CHECK(d.all()[3].message.find("starts with '/'") != std::string::npos);
  CHECK(d.all()[4].message.find("IPv6") != std::string::npos);
  CHECK(d.all()[5].message.find("already names") != std::string::npos);
}

TEST_CASE("the contract holds on every captured request, with and without HOST rules") {
  for (auto keys : {std::vector<std::string>{"HOST a.example.test", "CATCHALL"}, std::vector<std::string>{"PATH /", "H2C"}}) {
    auto p = configured(keys);
    for (const char* name : {"curl-7.88.txt", "wget-1.21.txt", "python-3.11-urllib.txt", "curl-connect.txt",
                             "curl-proxy-absolute-form.txt", "curl-h2c-prior-knowledge.bin"}) {
      std::ifstream in(std::string(PLUGIN_TEST_DATA) + "/vectors/" + name, std::ios::binary);
      std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      auto report = testing::probe_every_prefix(p, {bytes.data(), bytes.size()}, 16384);
      CHECK_MESSAGE(report.violation.empty(), name << ": " << report.violation);
      CHECK(report.verdict.kind == sdk::VerdictKind::Match);
    }
  }
}
