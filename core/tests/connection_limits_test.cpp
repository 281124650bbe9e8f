// Unit tests of ConnectionLimits: each limit admits exactly up to its number, counts are given
// back at release, a PROXY header's address is counted in place of the peer's, and refusals
// make one episode until a quiet second has passed.
#include <doctest/doctest.h>
#include <arpa/inet.h>

#include "server/connection_limits.hpp"

using namespace passthru::core;
using Verdict = ConnectionLimits::Verdict;

namespace {
IpAddress v4(const char* text, std::uint16_t port = 1000) {
  IpAddress a;
  a.v4.sin_family = AF_INET;
  a.v4.sin_port = htons(port);
  inet_pton(AF_INET, text, &a.v4.sin_addr);
  return a;
}

Config two_listeners(std::uint32_t process, std::uint32_t first, std::uint32_t per_source) {
  Config config;
  config.max_connections = process;
  config.servers.resize(2);
  config.servers[0].max_connections = first;
  config.servers[0].max_connections_per_source = per_source;
  return config;
}
}  // namespace

TEST_CASE("a listener's limit admits exactly its number, and a release makes room for one") {
  ConnectionLimits limits(two_listeners(0, 2, 0));
  CHECK(limits.admit(0, v4("10.0.0.1")) == Verdict::Admitted);
  CHECK(limits.admit(0, v4("10.0.0.2")) == Verdict::Admitted);
  CHECK(limits.admit(0, v4("10.0.0.3")) == Verdict::ListenerFull);
  CHECK(limits.admit(1, v4("10.0.0.3")) == Verdict::Admitted);  // the other listener has none
  limits.release(0, v4("10.0.0.1"));
  CHECK(limits.admit(0, v4("10.0.0.3")) == Verdict::Admitted);
}

TEST_CASE("the process's limit counts every listener, and a refusal by a listener counts nothing") {
  ConnectionLimits limits(two_listeners(3, 1, 0));
  CHECK(limits.admit(0, v4("10.0.0.1")) == Verdict::Admitted);
  CHECK(limits.admit(0, v4("10.0.0.1")) == Verdict::ListenerFull);
  CHECK(limits.admit(1, v4("10.0.0.1")) == Verdict::Admitted);
  CHECK(limits.admit(1, v4("10.0.0.1")) == Verdict::Admitted);
  CHECK(limits.admit(1, v4("10.0.0.1")) == Verdict::ProcessFull);
}

TEST_CASE("per source, addresses count apart whatever their ports") {
  ConnectionLimits limits(two_listeners(0, 0, 2));
  CHECK(limits.admit(0, v4("127.0.0.2", 1)) == Verdict::Admitted);
  CHECK(limits.admit(0, v4("127.0.0.2", 2)) == Verdict::Admitted);
  CHECK(limits.admit(0, v4("127.0.0.2", 3)) == Verdict::SourceFull);
  CHECK(limits.admit(0, v4("127.0.0.3", 3)) == Verdict::Admitted);
  limits.release(0, v4("127.0.0.2", 1));
  CHECK(limits.admit(0, v4("127.0.0.2", 4)) == Verdict::Admitted);
}

TEST_CASE("an adopted address is counted in place of the peer's, unless it is at its limit") {
  ConnectionLimits limits(two_listeners(0, 0, 1));
  REQUIRE(limits.admit(0, v4("127.0.0.2")) == Verdict::Admitted);
  REQUIRE(limits.admit(0, v4("127.0.0.3")) == Verdict::Admitted);
  CHECK(limits.move_source(0, v4("127.0.0.2"), v4("10.9.9.9")));
  CHECK(limits.admit(0, v4("127.0.0.2")) == Verdict::Admitted);  // the balancer's count was given back
  CHECK_FALSE(limits.move_source(0, v4("127.0.0.3"), v4("10.9.9.9")));
  limits.release(0, v4("127.0.0.3"));  // the refused one ends counted by its peer
  CHECK(limits.admit(0, v4("127.0.0.3")) == Verdict::Admitted);
}

TEST_CASE("refusals make one episode, over once a connection is admitted a quiet second later") {
  ConnectionLimits limits(two_listeners(0, 1, 0));
  CHECK(limits.refused(0, 100));
  CHECK_FALSE(limits.refused(0, 150));
  CHECK_FALSE(limits.refused(0, 900));
  CHECK(limits.admitting_again(0, 1200) == 0);  // 300 ms after the last: still the same episode
  CHECK(limits.admitting_again(0, 1900) == 3);
  CHECK(limits.admitting_again(0, 5000) == 0);
  CHECK(limits.refused(0, 6000));  // a new episode
}
