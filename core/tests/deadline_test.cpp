// Unit tests of Deadline: the libuv timer behind it is armed lazily (a deadline moved later or
// stopped leaves it armed, and it is armed again for what is left when it fires), yet the stage
// is told exactly as if the timer had been moved each time: at the last deadline set, never
// after a stop, and again after a new start.
#include <doctest/doctest.h>

#include "loop_fixture.hpp"

using namespace passthru::core;
using passthru::core::testing::LoopFixture;

namespace {
struct Told final : Deadline::Expiry {
  explicit Told(uv_loop_t* loop) noexcept : loop(loop) {}
  void on_deadline() override {
    ++times;
    at = uv_now(loop);
  }
  uv_loop_t* loop;
  int times = 0;
  std::uint64_t at = 0;
};
}  // namespace

TEST_CASE("a deadline moved later is told at the later time, not when the first was due") {
  LoopFixture fx;
  Told told(fx.loop());
  std::uint64_t started = uv_now(fx.loop());
  fx.deadline().start(10, told);
  fx.deadline().start(60, told);  // later: the timer armed for 10 ms stays, and is armed again
  CHECK(fx.wait_until([&] { return told.times == 1; }));
  CHECK(told.at >= started + 60);
  fx.wait_for(30);
  CHECK(told.times == 1);
  CHECK(fx.close() == 0);
}

TEST_CASE("a deadline moved earlier is told at the earlier time") {
  LoopFixture fx;
  Told told(fx.loop());
  fx.deadline().start(60000, told);
  fx.deadline().start(10, told);
  CHECK(fx.wait_until([&] { return told.times == 1; }, 5000));
  CHECK(fx.close() == 0);
}

TEST_CASE("a stopped deadline is never told, and one started again is") {
  LoopFixture fx;
  Told told(fx.loop());
  fx.deadline().start(10, told);
  fx.deadline().stop();
  fx.wait_for(40);  // the timer armed for 10 ms fires, and finds nothing due
  CHECK(told.times == 0);
  std::uint64_t restarted = uv_now(fx.loop());
  fx.deadline().start(20, told);
  CHECK(fx.wait_until([&] { return told.times == 1; }));
  CHECK(told.at >= restarted + 20);
  CHECK(fx.close() == 0);
}
