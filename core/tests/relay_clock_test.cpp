// Unit tests of RelayClock: which limit a relay passes first, and how long it waits until then.
#include <doctest/doctest.h>

#include "server/relay_clock.hpp"

using namespace passthru::core;

namespace {
RelayTimeouts limits(std::uint32_t idle, std::uint32_t half_closed, std::uint32_t lifetime) {
  RelayTimeouts t;
  t.idle_ms = idle;
  t.half_closed_ms = half_closed;
  t.max_lifetime_ms = lifetime;
  return t;
}
}  // namespace

TEST_CASE("a relay with no byte for the idle timeout has expired; before that it waits what remains") {
  RelayClock clock;
  clock.start(limits(1000, 1000, 0), 5000);
  CHECK(!clock.check(5400).expired);
  CHECK(clock.check(5400).wait_ms == 600);
  CHECK(clock.check(6000).expired == CloseReason::IdleTimeout);
}

TEST_CASE("activity moves the idle limit on from the last byte") {
  RelayClock clock;
  clock.start(limits(1000, 1000, 0), 0);
  clock.active(900);
  auto verdict = clock.check(1000);  // the timer armed at the start fires: armed again for the rest
  CHECK(!verdict.expired);
  CHECK(verdict.wait_ms == 900);
  CHECK(clock.check(1900).expired == CloseReason::IdleTimeout);
}

TEST_CASE("the half-closed limit counts from the first FIN, whatever moves after it") {
  RelayClock clock;
  clock.start(limits(10'000, 300, 0), 0);
  CHECK(clock.check(100).wait_ms == 9900);
  clock.half_closed(100);
  clock.half_closed(250);  // the first FIN counts
  clock.active(350);
  CHECK(clock.check(350).wait_ms == 50);
  CHECK(clock.check(400).expired == CloseReason::HalfClosedTimeout);
}

TEST_CASE("the lifetime limit ends even a busy relay") {
  RelayClock clock;
  clock.start(limits(1000, 1000, 2500), 0);
  for (std::uint64_t t = 0; t < 2500; t += 100) clock.active(t);
  CHECK(clock.check(2500).expired == CloseReason::MaxLifetime);
}

TEST_CASE("limits of zero are off, and with all off there is nothing to wait for") {
  RelayClock clock;
  clock.start(limits(0, 0, 0), 0);
  clock.half_closed(10);
  auto verdict = clock.check(1'000'000'000);
  CHECK(!verdict.expired);
  CHECK(verdict.wait_ms == 0);
}
