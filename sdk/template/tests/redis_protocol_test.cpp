// Unit tests of the REDIS detector through its Protocol interface, with passthru's probe harness
// (installed with the SDK: passthru::sdk_testing), which feeds every prefix of an input as a
// client sending one byte at a time would and checks the contract of protocol.hpp.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <string>

#include "configured.hpp"
#include "probe_harness.hpp"
#include "redis_protocol.hpp"

using passthru::sdk::NoMatchReason;
using passthru::sdk::Verdict;
using passthru::sdk::VerdictKind;

namespace {

/// A command as redis-cli sends it: a RESP array of bulk strings.
std::string command(std::initializer_list<std::string> words) {
  std::string out = "*" + std::to_string(words.size()) + "\r\n";
  for (const auto& w : words) out += "$" + std::to_string(w.size()) + "\r\n" + w + "\r\n";
  return out;
}

Verdict identify(const redis::RedisProtocol& p, const std::string& bytes, bool eof = false, std::size_t capacity = 16384) {
  return p.identify({{reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()}, eof, capacity});
}

passthru::testing::ProbeReport probe(const redis::RedisProtocol& p, const std::string& bytes, bool eof = false,
                                     std::size_t capacity = 16384) {
  return passthru::testing::probe_every_prefix(
      p, {reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()}, capacity, eof);
}

}  // namespace

TEST_CASE("the first command's name picks the rule, in any case") {
  auto p = passthru::testing::configured<redis::RedisProtocol>({"COMMAND ping", "COMMAND AUTH", "CATCHALL"});
  auto v = identify(p, command({"PING"}));
  REQUIRE(v.kind == VerdictKind::Match);
  CHECK(v.rule == 0);
  CHECK(v.facts.find("command") == "PING");
  CHECK(identify(p, command({"auth", "secret"})).rule == 1);
  CHECK(identify(p, command({"GET", "key"})).rule == 2);
}

TEST_CASE("without CATCHALL an unlisted command matches no rule") {
  auto p = passthru::testing::configured<redis::RedisProtocol>({"COMMAND PING"});
  CHECK(identify(p, command({"GET", "k"})).rule == passthru::sdk::kNoRule);
}

TEST_CASE("bad rule keys are refused") {
  passthru::sdk::Diagnostics d;
  passthru::testing::configured<redis::RedisProtocol>({"COMMAND", "SNI a", "COMMAND a.b", "COMMAND x", "COMMAND X"}, &d);
  CHECK(d.all().size() == 4);
}

TEST_CASE("garbage, empty and one-byte input") {
  auto p = passthru::testing::configured<redis::RedisProtocol>({"CATCHALL"});
  CHECK(identify(p, "").kind == VerdictKind::NeedMore);
  CHECK(identify(p, "*").kind == VerdictKind::NeedMore);
  CHECK(identify(p, "GET / HTTP/1.1\r\n").reason == NoMatchReason::NotThisProtocol);
  CHECK(identify(p, "*x").reason == NoMatchReason::NotThisProtocol);
  CHECK(identify(p, "*0\r\n").reason == NoMatchReason::Malformed);
  CHECK(identify(p, "*1\r\n$100\r\n").reason == NoMatchReason::Malformed);
  CHECK(identify(p, "*1\r\n$4\r\nPI").kind == VerdictKind::NeedMore);
  CHECK(identify(p, "*1\r\n$4\r\nPI", true).reason == NoMatchReason::Truncated);
}

TEST_CASE("a command that cannot fit in the buffer is too large, at every prefix") {
  auto p = passthru::testing::configured<redis::RedisProtocol>({"CATCHALL"});
  std::string ping = command({"PING"});
  CHECK(identify(p, ping.substr(0, 8), false, 12).reason == NoMatchReason::TooLarge);
  auto report = probe(p, ping, false, 12);
  CHECK_MESSAGE(report.violation.empty(), report.violation);
}

TEST_CASE("the contract holds byte by byte, with and without EOF") {
  auto p = passthru::testing::configured<redis::RedisProtocol>({"COMMAND PING", "CATCHALL"});
  for (const std::string& input : {command({"PING"}), command({"SET", "k", "v"}), std::string("*12345678\r\n"),
                                   std::string("+OK\r\n"), command({"PING"}).substr(0, 9)}) {
    for (bool eof : {false, true}) {
      auto report = probe(p, input, eof);
      CHECK_MESSAGE(report.violation.empty(), report.violation);
    }
  }
}
