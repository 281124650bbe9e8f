// Socket: owns one connection descriptor, a client's or a backend's, from the moment it is
// accepted or made until it is closed: the one type every stage holds a connection socket by.
// It is non-blocking, watched in the worker's EventSet (registered once, edge-triggered for
// both directions), and keeps what the edges said: whether it may be readable or writable,
// until a call says EAGAIN. Its owner is told of each new edge through its Watcher; handing
// the socket to the next stage moves it, and events go to the new owner from then on.
// It is not a libuv handle and closes synchronously; the EventSet drops events for it after.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <cstdint>
#include <utility>

namespace passthru::core {

class EventSet;

class Socket {
 public:
  /// Told when the socket's readiness changes (the flags below are already updated).
  class Watcher {
   public:
    virtual void on_ready(Socket& socket) = 0;

   protected:
    ~Watcher() = default;
  };

  Socket() noexcept = default;
  /// Takes `fd` (a connected or connecting, non-blocking stream socket) to close it later.
  Socket(EventSet& events, int fd) noexcept : events_(&events), fd_(fd) {}
  Socket(Socket&& other) noexcept { take(other); }
  Socket& operator=(Socket&& other) noexcept {
    if (this != &other) {
      close();
      take(other);
    }
    return *this;
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() { close(); }

  [[nodiscard]] int fd() const noexcept { return fd_; }
  [[nodiscard]] bool is_open() const noexcept { return fd_ >= 0; }

  /// Starts watching the socket, telling `watcher`; the first edge reports what is ready now.
  /// Returns 0 or a negated errno. A socket is watched once for its life.
  int watch(Watcher& watcher);
  [[nodiscard]] bool is_watched() const noexcept { return watched_; }
  /// Where the next events go (the stage the socket was handed to).
  void tell(Watcher& watcher) noexcept { watcher_ = &watcher; }
  /// Reports readiness again at the next turn of the loop (see EventSet::report_again).
  void report_again() const noexcept;

  /// What the edges said since the last EAGAIN (an error or hang-up counts as both: the next
  /// call says which it was).
  [[nodiscard]] bool may_read() const noexcept { return may_read_; }
  [[nodiscard]] bool may_write() const noexcept { return may_write_; }
  /// Whether epoll reported an error on it (a failed connect).
  [[nodiscard]] bool error_seen() const noexcept { return error_seen_; }
  /// Set when the socket was readable before it was watched (bytes came while being accepted).
  void assume_readable() noexcept { may_read_ = true; }
  /// Set when the socket is writable though no edge said so yet (a socket just accepted, whose
  /// send buffer is empty); a write that finds it full clears it.
  void assume_writable() noexcept { may_write_ = true; }

  /// read(2): bytes read, 0 at EOF, or a negated errno. EAGAIN clears may_read(), and so does
  /// a short read before the peer's FIN was announced.
  ssize_t read(void* into, std::size_t size) noexcept;
  /// write(2): bytes written or a negated errno (EAGAIN clears may_write()).
  ssize_t write(const void* from, std::size_t size) noexcept;
  /// writev(2), likewise.
  ssize_t writev(const iovec* parts, int count) noexcept;
  /// splice(2) from this socket into a pipe, likewise (EAGAIN clears may_read()).
  ssize_t splice_to(int pipe_fd, std::size_t size) noexcept;
  /// splice(2) from a pipe into this socket, likewise (EAGAIN clears may_write()).
  ssize_t splice_from(int pipe_fd, std::size_t size) noexcept;
  /// shutdown(SHUT_WR): a FIN after the bytes written. 0 or a negated errno.
  int shut_write() noexcept;
  /// TCP keepalive: probes after `idle_ms` without a byte (whole seconds, rounded up), a third
  /// of that apart; once nothing has come back for twice `idle_ms` (TCP_USER_TIMEOUT, which
  /// covers unacknowledged data too), the connection fails with ETIMEDOUT. For a long-lived
  /// link whose peer may vanish without a reset (a NAT that forgot it, a host switched off).
  /// `idle_ms` 0 leaves the socket as it is. 0 or a negated errno.
  int keep_alive(std::uint32_t idle_ms) noexcept;
  /// The socket's pending error (SO_ERROR), as a negated errno, or 0.
  [[nodiscard]] int pending_error() const noexcept;

  /// Closes now; with `reset`, the peer gets a RST instead of a FIN. Safe to call twice.
  void close(bool reset = false) noexcept;

 private:
  friend class EventSet;
  void take(Socket& other) noexcept;
  void on_events(std::uint32_t events);

  EventSet* events_ = nullptr;
  int fd_ = -1;
  Watcher* watcher_ = nullptr;
  bool watched_ = false;
  bool may_read_ = false;
  bool may_write_ = false;
  bool error_seen_ = false;
  bool hang_up_seen_ = false;  ///< the peer's FIN (or an error) was announced
};

}  // namespace passthru::core
