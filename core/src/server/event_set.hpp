// EventSet: the worker's own epoll set, in which every connection socket (client and backend,
// plain relay and tunnel stream) is watched, edge-triggered for reading and writing at once,
// registered once for the socket's whole life and never changed. libuv's loop watches the set
// as one descriptor, so a wake-up costs one epoll_wait inside the loop's turn.
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
  /// The worker's set, watched by `loop`; nullptr with `error` set if it cannot be made or
  /// watched (out of descriptors).
  static std::unique_ptr<EventSet> open(uv_loop_t* loop, std::string& error);
  EventSet(const EventSet&) = delete;
  EventSet& operator=(const EventSet&) = delete;
  ~EventSet();

  /// Stops watching the set (the worker is stopping); the handle closes with the loop's others.
  void close();

 private:
  explicit EventSet(uv_loop_t* loop) noexcept : loop_(loop) {}
  friend class Socket;
  struct Entry {
    Socket* socket = nullptr;
    std::uint32_t generation = 0;
  };

  /// Watches `socket`'s descriptor from now until forget(). Returns 0 or a negated errno.
  int add(Socket& socket);
  /// The socket at `fd` now lives at another address (it was moved).
  void moved(int fd, Socket& socket) noexcept { entries_[static_cast<std::size_t>(fd)].socket = &socket; }
  /// The socket is about to close: events already taken for it are dropped.
  void forget(int fd) noexcept;
  /// Reports the socket's readiness again at the next turn though no new edge came: for a
  /// socket whose owner stopped early to let the worker's other connections have their turn.
  void report_again(const Socket& socket) noexcept;

  static void on_ready(uv_poll_t* poll, int status, int events);

  uv_loop_t* loop_;
  int epoll_fd_ = -1;
  uv_poll_t poll_{};
  bool closed_ = false;
  std::vector<Entry> entries_;  ///< indexed by descriptor
};

}  // namespace passthru::core
