// Dialer: connects a TCP socket to a backend Endpoint without blocking the loop. A host name is
// resolved on libuv's thread pool; every address is tried in turn, each within the timeout.
// The socket is its own, not a libuv handle's: it waits for the connect in the worker's
// RelayPoller, where a relay goes on watching it, so it never passes through libuv's epoll set
// (each pass costs calls: in, out, and a vain removal at close). An owner that reads and writes
// through libuv moves it into a handle once connected (tcp_in_loop). The Dialer closes the
// socket and its timer when asked, telling its owner once everything is closed. Used by a client
// Connection and by each stream of an M-PROXY tunnel.
#pragma once

#include <uv.h>

#include <cstdint>

#include "../config/endpoint.hpp"
#include "relay_poller.hpp"

namespace passthru::core {

class Dialer final : private RelayPoller::Handler {
 public:
  class Owner {
   public:
    /// 0: tcp() is connected. Otherwise the last libuv error (UV_ETIMEDOUT for a timeout).
    virtual void on_dialed(int status) = 0;
    /// Every handle of the dialer is closed (after close()).
    virtual void on_dialer_closed() = 0;

   protected:
    ~Owner() = default;
  };

  Dialer(Owner& owner, uv_loop_t* loop, RelayPoller& poller) noexcept
      : owner_(&owner), loop_(loop), poller_(&poller) {}
  Dialer(const Dialer&) = delete;
  Dialer& operator=(const Dialer&) = delete;

  /// Starts connecting to `to` (which must outlive the dialer).
  void dial(const Endpoint& to, std::uint32_t timeout_ms);
  /// The connected socket, after on_dialed(0), watched in the RelayPoller (with TCP_NODELAY).
  [[nodiscard]] int fd() const noexcept { return fd_; }
  /// Where the socket's events go once it is connected.
  void forward_events_to(RelayPoller::Handler* handler) noexcept { forward_to_ = handler; }
  /// An event since the connect began said the socket may be readable: an edge a relay
  /// starting now would not be told of again.
  [[nodiscard]] bool readable_seen() const noexcept { return readable_seen_; }
  /// Moves the connected socket from the RelayPoller into a libuv handle and returns it; its
  /// `data` is the caller's to use. The Dialer still closes it.
  uv_tcp_t* tcp_in_loop();
  /// The handle tcp_in_loop() returned.
  uv_tcp_t* tcp() noexcept { return &tcp_; }
  /// Whether the failure was the name not resolving (rather than connecting).
  [[nodiscard]] bool resolve_failed() const noexcept { return resolve_failed_; }
  /// Closes whatever is open (with a reset if asked); on_dialer_closed() follows, possibly at once.
  void close(bool reset);

 private:
  static void on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* result);
  void on_events(std::uint32_t events) override;
  static void on_timer(uv_timer_t* timer);
  static void on_closed(uv_handle_t* handle);
  void close_socket(bool reset);
  void connect_next();
  void retry(int status);
  void fail(int status);
  void maybe_closed();

  Owner* owner_;
  uv_loop_t* loop_;
  RelayPoller* poller_;
  RelayPoller::Handler* forward_to_ = nullptr;
  const Endpoint* to_ = nullptr;
  std::uint32_t timeout_ms_ = 0;
  int fd_ = -1;    ///< the socket, while it is the Dialer's own
  uv_tcp_t tcp_{};  ///< the socket, once moved into libuv (tcp_in_loop)
  uv_timer_t timer_{};
  uv_getaddrinfo_t resolve_req_{};
  addrinfo* addresses_ = nullptr;
  addrinfo* next_address_ = nullptr;
  int pending_ = 0;  ///< open handles plus a resolve in flight
  int last_error_ = UV_ECONNREFUSED;
  bool literal_tried_ = false;
  bool resolving_ = false;
  bool connected_ = false;
  bool readable_seen_ = false;
  bool tcp_open_ = false;
  bool timer_open_ = false;
  bool closing_ = false;
  bool closed_told_ = false;
  bool resolve_failed_ = false;
};

}  // namespace passthru::core
