// Unit tests of Detection: protocols consulted in file order, a Match held back by an earlier
// undecided protocol, the same decision at every split, and each reason for the server CATCHALL.
#include <doctest/doctest.h>

#include <string>

#include "prefix_protocol.hpp"
#include "router/detection.hpp"

using namespace passthru;
using namespace passthru::core;
using passthru::core::testing::PrefixProtocol;

namespace {

Action make_action(ActionKind kind, std::string rule) {
  Action action;
  action.kind = kind;
  action.rule = std::move(rule);
  return action;
}

/// Matches a 4-byte header "HDR:" (rule 0) and says to strip it, like the PROXY protocol.
class HeaderProtocol final : public sdk::Protocol {
 public:
  std::string_view name() const noexcept override { return "HDR"; }
  void apply_rules(std::span<const sdk::RuleKey>, sdk::Diagnostics&) override {}
  sdk::Verdict identify(const sdk::ConnView& view) const noexcept override {
    std::string_view want = "HDR:";
    std::size_t n = std::min(view.bytes.size(), want.size());
    if (sdk::as_chars(view.bytes.first(n)) != want.substr(0, n)) return sdk::Verdict::no_match(sdk::NoMatchReason::NotThisProtocol);
    if (n < want.size()) return sdk::Verdict::need_more(want.size());
    auto v = sdk::Verdict::match(0);
    v.consumed = 4;
    v.facts.add("hdr", "yes");
    return v;
  }
};

struct Fixture {
  ServerConfig server;
  std::vector<std::shared_ptr<PrefixProtocol>> protocols;

  explicit Fixture(std::vector<std::string> prefixes, bool catchall = true) {
    for (auto& prefix : prefixes) {
      auto p = std::make_shared<PrefixProtocol>(prefix);
      protocols.push_back(p);
      Action forward = make_action(ActionKind::Forward, prefix);
      server.protocols.push_back({prefix, p, {forward}});
    }
    if (catchall) server.catchall = make_action(ActionKind::Reject, "CATCHALL");
    server.max_sniff_bytes = 64;
  }

  /// Feeds `input` in chunks of `chunk` bytes, as reads would arrive.
  Decision feed(const std::string& input, std::size_t chunk, bool eof_at_end = false) {
    Detection detection(server);
    auto bytes = reinterpret_cast<const std::uint8_t*>(input.data());
    for (std::size_t n = std::min(chunk, input.size());; n = std::min(n + chunk, input.size())) {
      bool eof = eof_at_end && n == input.size();
      Decision d = detection.advance({bytes, n}, eof, n == server.max_sniff_bytes);
      if (d.kind != Decision::Kind::Pending || n == input.size()) return d;
    }
  }
};

std::string decided(const Decision& d) {
  switch (d.kind) {
    case Decision::Kind::Pending: return "pending";
    case Decision::Kind::Rule: return d.protocol->name;
    case Decision::Kind::ServerCatchall: return std::string("catchall:") + to_token(d.fallback);
  }
  return "?";
}

}  // namespace

TEST_CASE("the first protocol in file order that matches wins") {
  Fixture f({"SSH-", "SS"});
  CHECK(decided(f.feed("SSH-2.0", 64)) == "SSH-");
  Fixture g({"SS", "SSH-"});
  CHECK(decided(g.feed("SSH-2.0", 64)) == "SS");
}

TEST_CASE("an undecided earlier protocol holds back a later match, at every split") {
  Fixture f({"ABCD", "AB"});
  for (std::size_t chunk = 1; chunk <= 5; ++chunk) {
    CAPTURE(chunk);
    CHECK(decided(f.feed("ABCD", chunk)) == "ABCD");
    CHECK(decided(f.feed("ABXY", chunk)) == "AB");
  }
}

TEST_CASE("a protocol is not polled again before the bytes it asked for have arrived") {
  Fixture f({"ABCDEFGH"});
  Detection detection(f.server);
  std::string input = "ABCDEFGH";
  auto bytes = reinterpret_cast<const std::uint8_t*>(input.data());
  for (std::size_t n = 1; n <= input.size(); ++n) detection.advance({bytes, n}, false, false);
  CHECK(f.protocols[0]->calls == 2);  // at 1 byte (asks for 8), then at 8
}

TEST_CASE("every protocol saying no match uses the server CATCHALL at once") {
  Fixture f({"TLS", "SSH"});
  CHECK(decided(f.feed("GET /", 1)) == "catchall:no_protocol");
}

TEST_CASE("a recognised protocol with no applicable rule falls to the server CATCHALL") {
  Fixture f({"AB"});
  f.server.protocols[0].protocol = std::make_shared<PrefixProtocol>("AB", false);
  Decision d = f.feed("AB", 2);
  CHECK(decided(d) == "catchall:no_rule");
  CHECK(d.protocol->name == "AB");
}

TEST_CASE("EOF and a full buffer end detection with the server CATCHALL") {
  Fixture f({"ABCDEF"});
  CHECK(decided(f.feed("ABC", 3, true)) == "catchall:client_eof");
  f.server.max_sniff_bytes = 4;
  Fixture g({"ABCDEF"});
  g.server.max_sniff_bytes = 4;
  CHECK(decided(g.feed("ABCD", 4)) == "catchall:buffer_full");
}

TEST_CASE("a full buffer lets a later protocol match on what is there") {
  Fixture f({"ABCDEFGHIJ", "AB"});
  f.server.max_sniff_bytes = 4;
  CHECK(decided(f.feed("ABCD", 4)) == "AB");
}

TEST_CASE("an UNWRAP rule strips its header and detection starts over after it, at every split") {
  Fixture f({"GET"});
  Action unwrap = make_action(ActionKind::Unwrap, "HDR");
  f.server.protocols.push_back({"HDR", std::make_shared<HeaderProtocol>(), {unwrap}});
  for (std::size_t chunk = 1; chunk <= 8; ++chunk) {
    CAPTURE(chunk);
    Detection detection(f.server);
    std::string input = "HDR:GET /";
    auto bytes = reinterpret_cast<const std::uint8_t*>(input.data());
    Decision d;
    for (std::size_t n = std::min(chunk, input.size());; n = std::min(n + chunk, input.size())) {
      d = detection.advance({bytes, n}, false, false);
      if (d.kind != Decision::Kind::Pending || n == input.size()) break;
    }
    CHECK(decided(d) == "GET");
    CHECK(detection.unwrapped().offset == 4);
    CHECK(detection.unwrapped().facts.find("hdr") == "yes");
  }
}

TEST_CASE("a protocol unwraps once: a second header after the first is not stripped") {
  Fixture f({});
  Action unwrap = make_action(ActionKind::Unwrap, "HDR");
  f.server.protocols.push_back({"HDR", std::make_shared<HeaderProtocol>(), {unwrap}});
  Detection detection(f.server);
  std::string input = "HDR:HDR:x";
  Decision d = detection.advance({reinterpret_cast<const std::uint8_t*>(input.data()), input.size()}, false, false);
  CHECK(decided(d) == "catchall:no_protocol");
  CHECK(detection.unwrapped().offset == 4);
}

TEST_CASE("the deadline uses the server CATCHALL; without one there is no action") {
  Fixture f({"AB"});
  Detection d(f.server);
  CHECK(decided(d.on_timeout()) == "catchall:timeout");
  CHECK(d.on_timeout().action != nullptr);
  Fixture g({"AB"}, false);
  CHECK(Detection(g.server).on_timeout().action == nullptr);
}
