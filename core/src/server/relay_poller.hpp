// RelayPoller: the worker's own epoll set for sockets being relayed (and backends being
// connected, which a relay then goes on watching), watched by the worker's libuv loop as one
// descriptor. libuv's TCP handles can only wait for readiness by reading into a buffer
// themselves, and a relay that moves bytes with splice(2) must not read them into user memory;
// so a backend socket is watched only here, and a client read through libuv while it was being
// sniffed leaves libuv's set for this one when its relay starts.
// Sockets are watched edge-triggered for reading and writing at once, registered once and never
// changed, so a relay makes no epoll_ctl call when its backpressure turns on or off.
#pragma once

#include <uv.h>

#include <cstdint>

namespace passthru::core {

class RelayPoller {
 public:
  /// What is told about a watched socket.
  class Handler {
   public:
    /// `events`: EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP, EPOLLRDHUP, as epoll reported them.
    virtual void on_events(std::uint32_t events) = 0;

   protected:
    ~Handler() = default;
  };

  /// Throws std::runtime_error if the epoll set cannot be made.
  explicit RelayPoller(uv_loop_t* loop);
  RelayPoller(const RelayPoller&) = delete;
  RelayPoller& operator=(const RelayPoller&) = delete;
  ~RelayPoller();

  /// Watches `fd` here until it is closed, taking it from libuv's set first if `in_loop` (its
  /// handle must be neither reading nor writing). Returns 0 or a libuv error.
  int watch(int fd, Handler* handler, bool in_loop);
  /// Stops watching `fd`, which stays open (to be handed to libuv).
  void forget(int fd);
  /// Reports `fd`'s readiness again at the next turn of the loop, though no new edge came: for a
  /// relay that stopped early to let other connections have their turn.
  void report_again(int fd, Handler* handler);
  /// Stops watching (the worker is stopping); the handle closes with the loop's other handles.
  void close();

 private:
  static void on_ready(uv_poll_t* poll, int status, int events);

  uv_loop_t* loop_;
  int epoll_fd_ = -1;
  uv_poll_t poll_{};
  bool closed_ = false;
};

}  // namespace passthru::core
