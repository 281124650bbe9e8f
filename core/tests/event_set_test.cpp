// Unit tests of EventSet as the turn of a worker's loop: one wait, in the worker's own epoll set,
// serves the connection sockets, the listening sockets and libuv's part (its timers, and the
// requests other threads send), without a second wait inside libuv for each wake-up.
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <uv.h>

#include <thread>

#include "loop_fixture.hpp"

using namespace passthru::core;
using namespace passthru::core::testing;

namespace {

struct CountingAcceptor final : EventSet::Acceptor {
  void on_acceptable() override { ++told; }
  int told = 0;
};

struct CountingWatcher final : Socket::Watcher {
  void on_ready(Socket&) override { ++told; }
  int told = 0;
};

}  // namespace

TEST_CASE("a turn that waits wakes when a libuv timer is due, though no socket is ready") {
  LoopFixture fx;
  bool fired = false;
  uv_timer_t timer;
  uv_timer_init(fx.loop(), &timer);
  timer.data = &fired;
  uv_timer_start(&timer, [](uv_timer_t* t) { *static_cast<bool*>(t->data) = true; }, 20, 0);
  // The first turn starts libuv; the second waits for the timer and runs it (a third at most,
  // should the wait return a moment early).
  CHECK(fx.wait_until([&] { return fired; }, 10000, 3));
  uv_close(reinterpret_cast<uv_handle_t*>(&timer), nullptr);
  CHECK(fx.close() == 0);
}

TEST_CASE("a request from another thread wakes a turn that waits") {
  LoopFixture fx;
  bool heard = false;
  uv_async_t request;
  uv_async_init(fx.loop(), &request, [](uv_async_t* a) { *static_cast<bool*>(a->data) = true; });
  request.data = &heard;
  fx.turn(1);  // libuv is running: its descriptors are watched from now on
  std::thread sender([&] { uv_async_send(&request); });
  // Only libuv's own set, watched inside the worker's, can end this wait before the guard.
  bool woke = fx.wait_until([&] { return heard; }, 10000, 2);
  sender.join();
  CHECK(woke);
  uv_close(reinterpret_cast<uv_handle_t*>(&request), nullptr);
  CHECK(fx.close() == 0);
}

TEST_CASE("a listening socket is told at each turn while a connection waits, and not while paused") {
  LoopFixture fx;
  LoopbackPort port(8);
  CountingAcceptor acceptor;
  REQUIRE(fx.events().watch_listening(port.fd(), acceptor) == 0);
  fx.turn(2);
  CHECK(acceptor.told == 0);  // nobody has connected

  int client = port.connect_to();
  fx.turn(2);
  CHECK(acceptor.told == 2);  // level-triggered: told again while the connection waits

  fx.events().pause_listening(port.fd(), true);
  fx.turn(2);
  CHECK(acceptor.told == 2);
  fx.events().pause_listening(port.fd(), false);
  fx.turn(1);
  CHECK(acceptor.told == 3);

  int accepted = accept4(port.fd(), nullptr, nullptr, SOCK_CLOEXEC);
  REQUIRE(accepted >= 0);
  fx.turn(2);
  CHECK(acceptor.told == 3);  // nothing waits any more

  fx.events().forget(port.fd());
  ::close(accepted);
  ::close(client);
  CHECK(fx.close() == 0);
}

TEST_CASE("a timer that is due runs in the same turn as the sockets that are ready") {
  LoopFixture fx;
  FdPair pair = unix_pair();
  Peer peer(pair.peer);
  CountingWatcher watcher;
  Socket socket(fx.events(), pair.stage);
  REQUIRE(socket.watch(watcher) == 0);
  fx.turn(1);  // the socket's first edge: writable
  int told_before = watcher.told;

  bool fired = false;
  uv_timer_t timer;
  uv_timer_init(fx.loop(), &timer);
  timer.data = &fired;
  uv_timer_start(&timer, [](uv_timer_t* t) { *static_cast<bool*>(t->data) = true; }, 0, 0);
  peer.send("x");
  fx.events().turn(false);
  CHECK(watcher.told == told_before + 1);
  CHECK(fired);

  socket.close();
  uv_close(reinterpret_cast<uv_handle_t*>(&timer), nullptr);
  CHECK(fx.close() == 0);
}
