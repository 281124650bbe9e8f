// EventSet: the worker's one epoll set, and the turn of its loop. Every connection socket
// (client and backend, plain relay and tunnel stream) is watched in it, edge-triggered for
// reading and writing at once, registered once for the socket's whole life and never changed;
// the listening sockets are watched in it too (level-triggered), and so is libuv's own epoll
// set, as one descriptor, for what libuv still does: timers, the thread pool's answers (name
// resolution), and the requests other threads send with uv_async_send.
// Why this way round: a wake-up costs one epoll_wait, as in a proxy with no libuv at all.
// libuv is turned (one more epoll_wait, inside uv_run) only in a turn where it has something
// to do: a timer due, a handle closing, a descriptor of its own ready.
// Why not libuv's TCP handles: they can only wait for readiness by reading into a buffer
// themselves, and a relay that moves bytes with splice(2) must not read them into memory.
// An event finds its Socket through a table indexed by descriptor, with a generation per entry:
// an event already taken for a socket that has since closed (or whose descriptor number was
// reused by a new socket in the same batch) is dropped, never delivered to the wrong owner.
// It owns no socket; Socket registers and unregisters itself.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace passthru::core {

class Socket;

class EventSet {
 public:
  /// Told at each turn while a connection waits on a listening socket.
  class Acceptor {
   public:
    virtual void on_acceptable() = 0;

   protected:
    ~Acceptor() = default;
  };

  /// The worker's set, which turns `loop` too; nullptr with `error` set if it cannot be made
  /// (out of descriptors).
  static std::unique_ptr<EventSet> open(uv_loop_t* loop, std::string& error);
  EventSet(const EventSet&) = delete;
  EventSet& operator=(const EventSet&) = delete;
  ~EventSet();

  /// One turn of the loop: waits for readiness (with `wait`, until something is ready or the
  /// loop's next timer is due, and for `at_most_ms` at most when it is not -1; else not at
  /// all), tells each socket's owner, then runs libuv's part if it has something to do. The
  /// loop's time (uv_now) is read once, after the wait.
  /// libuv adds a descriptor to its set only when it runs: the first turn runs it before it
  /// waits, so that the handles made before (the wake-up, the thread pool's answers) are watched.
  void turn(bool wait, int at_most_ms = -1);

  /// Watches the listening socket `fd` for `acceptor` until forget(). Returns 0 or a negated errno.
  int watch_listening(int fd, Acceptor& acceptor);
  /// Stops telling the acceptor (out of descriptors, it waits), or starts again.
  void pause_listening(int fd, bool paused);
  /// The socket at `fd` is about to close: events already taken for it are dropped.
  void forget(int fd) noexcept;

  /// How many turns have begun: a stamp that tells one turn from the next.
  [[nodiscard]] std::uint64_t turns() const noexcept { return turns_; }

  /// From now on no socket is told anything (the worker is stopping; every one is closed).
  void close() noexcept { closed_ = true; }

 private:
  explicit EventSet(uv_loop_t* loop) noexcept : loop_(loop) {}
  friend class Socket;
  struct Entry {
    Socket* socket = nullptr;
    Acceptor* acceptor = nullptr;
    std::uint32_t generation = 0;
  };

  /// Watches `socket`'s descriptor from now until forget(). Returns 0 or a negated errno.
  int add(Socket& socket);
  /// The socket at `fd` now lives at another address (it was moved).
  void moved(int fd, Socket& socket) noexcept { entries_[static_cast<std::size_t>(fd)].socket = &socket; }
  /// Reports the socket's readiness again at the next turn though no new edge came: for a
  /// socket whose owner stopped early to let the worker's other connections have their turn.
  void report_again(const Socket& socket) noexcept;
  /// The entry for `fd`, its generation advanced: events for its previous holder are dropped.
  Entry& renew(int fd);

  uv_loop_t* loop_;
  int epoll_fd_ = -1;
  bool closed_ = false;
  bool loop_started_ = false;  ///< libuv has run once
  std::uint64_t turns_ = 0;
  std::vector<Entry> entries_;  ///< indexed by descriptor
};

}  // namespace passthru::core
