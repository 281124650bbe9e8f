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

ServerConfig listener(std::uint32_t max_connections, std::uint32_t per_source) {
  ServerConfig server;
  server.max_connections = max_connections;
  server.max_connections_per_source = per_source;
  return server;
}

/// A process limit and two listeners, the first with the limits given, the second with none.
struct TwoListeners {
  TwoListeners(std::uint32_t process, std::uint32_t first, std::uint32_t per_source)
      : limits(process),
        first(ConnectionLimits::for_listener(listener(first, per_source))),
        second(ConnectionLimits::for_listener(listener(0, 0))) {}
  ConnectionLimits limits;
  std::shared_ptr<ConnectionLimits::PerListener> first, second;
  ConnectionLimits::PerListener& at(int index) { return index == 0 ? *first : *second; }
};
}  // namespace

TEST_CASE("a listener's limit admits exactly its number, and a release makes room for one") {
  TwoListeners two(0, 2, 0);
  ConnectionLimits& limits = two.limits;
  CHECK(limits.admit(two.at(0), v4("10.0.0.1")) == Verdict::Admitted);
  CHECK(limits.admit(two.at(0), v4("10.0.0.2")) == Verdict::Admitted);
  CHECK(limits.admit(two.at(0), v4("10.0.0.3")) == Verdict::ListenerFull);
  CHECK(limits.admit(two.at(1), v4("10.0.0.3")) == Verdict::Admitted);  // the other listener has none
  limits.release(two.at(0), v4("10.0.0.1"));
  CHECK(limits.admit(two.at(0), v4("10.0.0.3")) == Verdict::Admitted);
}

TEST_CASE("the process's limit counts every listener, and a refusal by a listener counts nothing") {
  TwoListeners two(3, 1, 0);
  ConnectionLimits& limits = two.limits;
  CHECK(limits.admit(two.at(0), v4("10.0.0.1")) == Verdict::Admitted);
  CHECK(limits.admit(two.at(0), v4("10.0.0.1")) == Verdict::ListenerFull);
  CHECK(limits.admit(two.at(1), v4("10.0.0.1")) == Verdict::Admitted);
  CHECK(limits.admit(two.at(1), v4("10.0.0.1")) == Verdict::Admitted);
  CHECK(limits.admit(two.at(1), v4("10.0.0.1")) == Verdict::ProcessFull);
}

TEST_CASE("per source, addresses count apart whatever their ports") {
  TwoListeners two(0, 0, 2);
  ConnectionLimits& limits = two.limits;
  CHECK(limits.admit(two.at(0), v4("127.0.0.2", 1)) == Verdict::Admitted);
  CHECK(limits.admit(two.at(0), v4("127.0.0.2", 2)) == Verdict::Admitted);
  CHECK(limits.admit(two.at(0), v4("127.0.0.2", 3)) == Verdict::SourceFull);
  CHECK(limits.admit(two.at(0), v4("127.0.0.3", 3)) == Verdict::Admitted);
  limits.release(two.at(0), v4("127.0.0.2", 1));
  CHECK(limits.admit(two.at(0), v4("127.0.0.2", 4)) == Verdict::Admitted);
}

TEST_CASE("an adopted address is counted in place of the peer's, unless it is at its limit") {
  TwoListeners two(0, 0, 1);
  ConnectionLimits& limits = two.limits;
  REQUIRE(limits.admit(two.at(0), v4("127.0.0.2")) == Verdict::Admitted);
  REQUIRE(limits.admit(two.at(0), v4("127.0.0.3")) == Verdict::Admitted);
  CHECK(limits.move_source(two.at(0), v4("127.0.0.2"), v4("10.9.9.9")));
  CHECK(limits.admit(two.at(0), v4("127.0.0.2")) == Verdict::Admitted);  // the balancer's count was given back
  CHECK_FALSE(limits.move_source(two.at(0), v4("127.0.0.3"), v4("10.9.9.9")));
  limits.release(two.at(0), v4("127.0.0.3"));  // the refused one ends counted by its peer
  CHECK(limits.admit(two.at(0), v4("127.0.0.3")) == Verdict::Admitted);
}

TEST_CASE("refusals make one episode, over once a connection is admitted a quiet second later") {
  TwoListeners two(0, 1, 0);
  ConnectionLimits& limits = two.limits;
  CHECK(limits.refused(two.at(0), 100));
  CHECK_FALSE(limits.refused(two.at(0), 150));
  CHECK_FALSE(limits.refused(two.at(0), 900));
  CHECK(limits.admitting_again(two.at(0), 1200) == 0);  // 300 ms after the last: still the same episode
  CHECK(limits.admitting_again(two.at(0), 1900) == 3);
  CHECK(limits.admitting_again(two.at(0), 5000) == 0);
  CHECK(limits.refused(two.at(0), 6000));  // a new episode
}

TEST_CASE("a reload keeps a listener's counts and applies its new limits") {
  ConnectionLimits limits(0);
  auto counts = ConnectionLimits::for_listener(listener(3, 0));
  REQUIRE(limits.admit(*counts, v4("10.0.0.1")) == Verdict::Admitted);
  REQUIRE(limits.admit(*counts, v4("10.0.0.2")) == Verdict::Admitted);
  auto lowered = ConnectionLimits::for_listener(listener(2, 0), counts);
  CHECK(lowered == counts);
  CHECK(limits.admit(*lowered, v4("10.0.0.3")) == Verdict::ListenerFull);  // the two live ones count
  limits.set_max_connections(2);
  auto other = ConnectionLimits::for_listener(listener(0, 0));
  CHECK(limits.admit(*other, v4("10.0.0.3")) == Verdict::ProcessFull);
  // A per-source limit where there was none counts afresh: the old connections give back to theirs.
  auto per_source = ConnectionLimits::for_listener(listener(0, 1), lowered);
  CHECK(per_source != counts);
  limits.set_max_connections(0);
  CHECK(limits.admit(*per_source, v4("10.0.0.1")) == Verdict::Admitted);
  CHECK(limits.admit(*per_source, v4("10.0.0.1")) == Verdict::SourceFull);
  limits.release(*counts, v4("10.0.0.1"));
  CHECK(counts->live == 1);
}
