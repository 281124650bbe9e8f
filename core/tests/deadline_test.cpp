// Unit tests of Deadline and the worker's DeadlineQueue: a deadline is looked at early (its
// band's wait, the largest power of two in its own) and put back for what is left, and one
// moved later or stopped stays where it was; yet the stage is told exactly as if a timer had
// been moved each time: at the last deadline set, never after a stop, and again after a new
// start. And Lifeline: an owner that lets go is told at the end of the turn, not inside let_go.
#include <doctest/doctest.h>

#include <vector>

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

TEST_CASE("deadlines of many waits are each told once, none before its time") {
  LoopFixture fx;
  // Waits with many bits set: each is looked at once per bit, and put back for the rest.
  const std::uint64_t waits[] = {1, 3, 7, 21, 45, 90};
  std::vector<Told> told(std::size(waits), Told(fx.loop()));
  std::vector<std::unique_ptr<Deadline>> deadlines;
  std::uint64_t started = uv_now(fx.loop());
  for (std::size_t i = 0; i < std::size(waits); ++i) {
    deadlines.push_back(std::make_unique<Deadline>(fx.deadlines()));
    deadlines.back()->start(waits[i], told[i]);
  }
  CHECK(fx.wait_until([&] { return told.back().times == 1; }));
  fx.wait_for(20);
  for (std::size_t i = 0; i < std::size(waits); ++i) {
    CAPTURE(waits[i]);
    CHECK(told[i].times == 1);
    CHECK(told[i].at >= started + waits[i]);
  }
  CHECK(fx.close() == 0);
}

namespace {
/// Told first, it closes the other deadline, due at the same moment.
struct ClosesAnother final : Deadline::Expiry {
  explicit ClosesAnother(Deadline& other) noexcept : other(other) {}
  void on_deadline() override {
    ++times;
    other.close();
  }
  Deadline& other;
  int times = 0;
};

struct Released final : Lifeline::Owner {
  void on_released() override { ++times; }
  int times = 0;
};
}  // namespace

TEST_CASE("a stage told of its deadline may close another due in the same turn: that one is never told") {
  LoopFixture fx;
  Told second_told(fx.loop());
  Deadline first(fx.deadlines());
  Deadline second(fx.deadlines());
  ClosesAnother closes(second);
  first.start(5, closes);  // the same wait, started first: first in its band
  second.start(5, second_told);
  CHECK(fx.wait_until([&] { return closes.times == 1; }));
  fx.wait_for(20);
  CHECK(second_told.times == 0);
  CHECK(fx.close() == 0);
}

TEST_CASE("an owner that lets go is told at the end of the turn, once, and not while a request is out") {
  LoopFixture fx;
  Released owner;
  Lifeline lifeline(owner, fx.releases());
  lifeline.hold();  // a request out
  lifeline.let_go();
  fx.turn(2);
  CHECK(owner.times == 0);
  lifeline.release();  // its callback came: still inside this call, the owner is not told
  CHECK(owner.times == 0);
  fx.turn(1);
  CHECK(owner.times == 1);
  lifeline.let_go();
  fx.turn(2);
  CHECK(owner.times == 1);
  CHECK(fx.close() == 0);
}
