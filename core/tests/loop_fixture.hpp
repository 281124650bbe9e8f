// What the unit tests of the connection stages (Sniffer, Connector, Forwarder) run on: a real
// libuv loop with the worker's EventSet on it, turned a bounded number of times; the test's own
// ends of socket pairs (Peer), read and written without ever blocking; loopback TCP pairs and
// ports; and the Lifeline and Deadline a connection lends its stages.
// It is not a worker: nothing here accepts or routes connections, and no traffic leaves loopback.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "config/endpoint.hpp"
#include "server/close_reason.hpp"
#include "server/deadline.hpp"
#include "server/event_set.hpp"
#include "server/lifeline.hpp"
#include "server/socket.hpp"

namespace passthru::core::testing {

/// How many turns a test waits for something before it gives up. A turn that finds nothing to
/// do returns at once, so this bounds a failing test by a count, not by a clock.
inline constexpr int kTurns = 100000;

class LoopFixture {
 public:
  LoopFixture();
  LoopFixture(const LoopFixture&) = delete;
  LoopFixture& operator=(const LoopFixture&) = delete;
  /// Closes what close() was not called for, so that a test stopped by a failed REQUIRE leaks nothing.
  ~LoopFixture();

  uv_loop_t* loop() noexcept { return &loop_; }
  EventSet& events() noexcept { return *events_; }
  /// A connection's timer, for a stage that arms one; close() closes it.
  Deadline& deadline() noexcept { return *deadline_; }
  /// The worker's deadlines, and its owners that may go, told at the end of each turn.
  DeadlineQueue& deadlines() noexcept { return *deadlines_; }
  Lifeline::ReleaseList& releases() noexcept { return releases_; }

  /// Turns the loop without waiting, at most `turns` times, until `done()`; returns done().
  /// For what happens at once on loopback: bytes, FINs and resets arrive within the call that sent them.
  template <typename Done>
  bool turn_until(Done&& done, int turns = kTurns) {
    for (int i = 0; i < turns && !done(); ++i) turn_once(false);
    return done();
  }

  /// Turns the loop `times` times without waiting: for a test that checks nothing happened.
  void turn(int times) {
    for (int i = 0; i < times; ++i) turn_once(false);
  }

  /// Turns the loop, waiting each time for something to happen, until `done()`; returns done().
  /// For a timer or the thread pool. A guard timer of `guard_ms` ends the wait if nothing ever
  /// comes (the worker's epoll set would otherwise keep it waiting for good): it bounds a failing
  /// test, and a passing one never reaches it. `turns`, when given, bounds how many waits it
  /// takes: for a test that one wait is enough.
  template <typename Done>
  bool wait_until(Done&& done, std::uint64_t guard_ms = 10000, int turns = std::numeric_limits<int>::max()) {
    start_guard(guard_ms);
    releases_.run();  // what let go since the last turn: a turn that waited would not see it
    for (int i = 0; i < turns && !done() && !guard_fired_; ++i) turn_once(true);
    uv_timer_stop(&guard_);
    return done();
  }

  /// Turns the loop until `ms` milliseconds have passed on its clock: for a test that checks
  /// what a timer did not do.
  void wait_for(std::uint64_t ms) {
    wait_until([] { return false; }, ms);
  }

  /// A socket on `fd` (non-blocking), already watched, as the Connector hands a backend over:
  /// its events go nowhere until the stage it is given to tells it where.
  Socket watched(int fd);

  /// Closes every handle, runs the loop until their callbacks came, and returns what
  /// uv_loop_close says: 0 when nothing was left open. Every test that runs a loop ends so.
  int close();

 private:
  struct Unwatched final : Socket::Watcher {
    void on_ready(Socket&) override {}
  };

  void start_guard(std::uint64_t ms);
  /// One turn of the loop, as the worker's: then the owners it let go are told.
  void turn_once(bool wait) {
    events_->turn(wait);
    releases_.run();
  }

  uv_loop_t loop_{};
  std::unique_ptr<EventSet> events_;
  Lifeline::ReleaseList releases_;
  std::optional<DeadlineQueue> deadlines_;
  std::optional<Deadline> deadline_;
  uv_timer_t guard_{};
  bool guard_fired_ = false;
  bool closed_ = false;
  Unwatched unwatched_;
};

/// The test's own end of a socket pair: what it read, and what it still has to write.
/// Non-blocking throughout; recv and send, not read and write, so that the process's I/O
/// counters (/proc/self/io) count only what the stage under test moved.
class Peer {
 public:
  explicit Peer(int fd = -1) noexcept : fd_(fd) {}
  Peer(Peer&& other) noexcept;
  Peer& operator=(Peer&& other) noexcept;
  ~Peer() { close(); }

  [[nodiscard]] int fd() const noexcept { return fd_; }

  /// Reads what has arrived into `received`; an EOF sets `eof`, a failure `error` (an errno).
  /// Returns how many bytes it read.
  std::size_t pull();
  /// Queues `bytes` and writes what the socket takes now; push() writes the rest later.
  void send(std::string_view bytes);
  /// Writes what the socket takes of the queued bytes; returns how many went.
  std::size_t push();
  [[nodiscard]] bool sent_all() const noexcept { return sent_ == outbox_.size(); }

  /// shutdown(SHUT_WR): a FIN after what was written.
  void shut_write();
  /// Closes with a RST (SO_LINGER with a zero timeout) instead of a FIN.
  void reset();
  void close();

  std::string received;
  bool eof = false;
  int error = 0;
  std::size_t written = 0;  ///< bytes the socket took

 private:
  int fd_ = -1;
  std::string outbox_;
  std::size_t sent_ = 0;  ///< of outbox_
};

/// Both ends of a connected stream pair: the stage's, and the test's.
struct FdPair {
  int stage = -1;
  int peer = -1;
};

/// socketpair(AF_UNIX, SOCK_STREAM), both ends non-blocking. `buffer_bytes` > 0 sets SO_SNDBUF
/// and SO_RCVBUF on both ends (a Unix stream's sender is bounded by its own SO_SNDBUF).
FdPair unix_pair(int buffer_bytes = 0);
/// A TCP connection on 127.0.0.1, both ends non-blocking and with TCP_NODELAY (so that no
/// small write waits for a delayed ACK). `buffer_bytes` > 0 sets SO_SNDBUF and SO_RCVBUF before
/// the handshake, on both ends, which also turns the kernel's autotuning off.
FdPair tcp_pair(int buffer_bytes = 0);

/// A TCP socket bound to a free port of 127.0.0.1: listening with `backlog`, or only bound
/// (nothing accepts there: a connect is refused) when `backlog` is nullopt.
class LoopbackPort {
 public:
  explicit LoopbackPort(std::optional<int> backlog, int buffer_bytes = 0);
  LoopbackPort(const LoopbackPort&) = delete;
  LoopbackPort& operator=(const LoopbackPort&) = delete;
  ~LoopbackPort();

  [[nodiscard]] int fd() const noexcept { return fd_; }
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  /// "127.0.0.1:<port>", parsed as the config would.
  [[nodiscard]] Endpoint endpoint() const;
  /// A blocking connect to it from a new socket (its SO_SNDBUF and SO_RCVBUF set first when
  /// `buffer_bytes` > 0); returns the descriptor, non-blocking once connected.
  [[nodiscard]] int connect_to(int buffer_bytes = 0) const;

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

/// `size` bytes of a pseudo-random sequence: a piece lost, doubled or moved does not compare
/// equal, wherever the reads and writes cut it. `seed` tells two streams apart.
std::string pattern(std::size_t size, std::uint32_t seed);

/// How a stage's end reads in the access log's end= and error=: "client_reset ECONNRESET", or
/// "done" when there was no error.
std::string ending(CloseReason why, int error);

/// What a stage told its owner of how it ended, as a test's owner keeps it.
struct HeardEnd {
  void hear(CloseReason why_, int error_) {
    ++times;
    why = why_;
    error = error_;
  }
  /// "done", "client_reset ECONNRESET"...; or how many times it was told, if not once.
  [[nodiscard]] std::string text() const { return times == 1 ? ending(why, error) : std::to_string(times) + " calls"; }

  int times = 0;
  CloseReason why = CloseReason::Shutdown;
  int error = 0;
};

/// A connection's Lifeline and Deadline, as it lends them to its stages; released() once the
/// Lifeline has let go.
class Lifetime final : private Lifeline::Owner {
 public:
  explicit Lifetime(LoopFixture& fixture)
      : lifeline(*this, fixture.releases()), deadline(fixture.deadlines()), fixture_(&fixture) {}

  /// Closes the deadline, lets go and turns the loop until released; returns whether it was.
  bool end();
  [[nodiscard]] bool released() const noexcept { return released_; }

  Lifeline lifeline;
  Deadline deadline;

 private:
  void on_released() override { released_ = true; }

  LoopFixture* fixture_;
  bool released_ = false;
};

}  // namespace passthru::core::testing
