// Dialer: connects a TCP socket to a backend Endpoint without blocking the loop. A host name is
// resolved on libuv's thread pool; every address is tried in turn, each within the timeout.
// It owns its handles (the socket, a timer) and closes them when asked, telling its owner once
// everything is closed. Used by a client Connection and by each stream of an M-PROXY tunnel.
#pragma once

#include <uv.h>

#include <cstdint>

#include "../config/endpoint.hpp"

namespace passthru::core {

class Dialer {
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

  Dialer(Owner& owner, uv_loop_t* loop) noexcept : owner_(&owner), loop_(loop) {}
  Dialer(const Dialer&) = delete;
  Dialer& operator=(const Dialer&) = delete;

  /// Starts connecting to `to` (which must outlive the dialer).
  void dial(const Endpoint& to, std::uint32_t timeout_ms);
  /// The connected socket, after on_dialed(0). Its `data` is the caller's to use.
  uv_tcp_t* tcp() noexcept { return &tcp_; }
  /// Whether the failure was the name not resolving (rather than connecting).
  [[nodiscard]] bool resolve_failed() const noexcept { return resolve_failed_; }
  /// Closes whatever is open (with a reset if asked); on_dialer_closed() follows, possibly at once.
  void close(bool reset);

 private:
  static void on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* result);
  static void on_connect(uv_connect_t* req, int status);
  static void on_timer(uv_timer_t* timer);
  static void on_tcp_closed_for_retry(uv_handle_t* handle);
  static void on_closed(uv_handle_t* handle);
  void connect_next();
  void retry(int status);
  void fail(int status);
  void maybe_closed();

  Owner* owner_;
  uv_loop_t* loop_;
  const Endpoint* to_ = nullptr;
  std::uint32_t timeout_ms_ = 0;
  uv_tcp_t tcp_{};
  uv_timer_t timer_{};
  uv_getaddrinfo_t resolve_req_{};
  uv_connect_t connect_req_{};
  addrinfo* addresses_ = nullptr;
  addrinfo* next_address_ = nullptr;
  int pending_ = 0;  ///< open handles plus a resolve in flight
  int last_error_ = UV_ECONNREFUSED;
  bool literal_tried_ = false;
  bool resolving_ = false;
  bool tcp_open_ = false;
  bool timer_open_ = false;
  bool closing_ = false;
  bool closed_told_ = false;
  bool resolve_failed_ = false;
};

}  // namespace passthru::core
