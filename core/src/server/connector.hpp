// Connector: reaches a backend Endpoint without blocking the loop. A host name is resolved on
// libuv's thread pool; every address is tried in turn, each within the connect timeout. It
// owns the backend socket while connecting (watched in the worker's EventSet, so the connect's
// outcome comes from epoll alone) and hands the connected socket to its owner, which owns it
// from then on. Used by client connections and by each stream of an M-PROXY tunnel.
// It borrows its owner's Deadline for the timeout and Lifeline for the resolve in flight.
// In transparent mode it may connect to an address that is no Endpoint of the config (the
// original destination) and from one that is not this host's (the client's: ConnectFrom).
#pragma once

#include <uv.h>

#include <cstdint>

#include "../config/endpoint.hpp"
#include "../config/name_target.hpp"
#include "close_reason.hpp"
#include "deadline.hpp"
#include "lifeline.hpp"
#include "socket.hpp"

namespace passthru::core {

class EventSet;

/// Where a backend connection comes from when not from passthru's own address: a FORWARD's
/// source = "client" (the client's address, a port connect() picks) or "client_port" (its port
/// too). The kernel refusing it (that pair in use, not allowed, of another family than the
/// target) ends the attempt as SourceRefused: another address of the target would not help.
struct ConnectFrom {
  const sockaddr* address = nullptr;  ///< nullptr: passthru's own, as the kernel chooses
  bool keep_port = false;
};

class Connector final : private Socket::Watcher, private Deadline::Expiry {
 public:
  class Owner {
   public:
    /// The backend accepted: `backend` is connected, watched, with TCP_NODELAY; it is the
    /// owner's now (tell() it where its events go).
    virtual void on_connected(Socket backend) = 0;
    /// No address accepted in time: why (ResolveFailed, ConnectFailed, ConnectTimeout,
    /// OutOfDescriptors, SourceRefused), and the last error as a negated errno or libuv code.
    virtual void on_connect_failed(CloseReason why, int error) = 0;

   protected:
    ~Owner() = default;
  };

  Connector(Owner& owner, uv_loop_t* loop, EventSet& events, Deadline& deadline, Lifeline& lifeline) noexcept
      : owner_(&owner), loop_(loop), events_(&events), deadline_(&deadline), lifeline_(&lifeline) {}
  Connector(const Connector&) = delete;
  Connector& operator=(const Connector&) = delete;
  ~Connector();

  /// Starts connecting to `to` (which must outlive the connector), from `from`'s address if any.
  void connect(const Endpoint& to, std::uint32_t timeout_ms, ConnectFrom from = {});
  /// Starts connecting to the one address `to` (ORIGINAL's), which must outlive the connector.
  void connect(const sockaddr* to, std::uint32_t timeout_ms, ConnectFrom from = {});
  /// Gives up: closes the socket being connected; a resolve in flight is cancelled (its
  /// callback still comes, through the owner's Lifeline). The owner hears nothing more.
  void cancel() noexcept;
  /// From now on, connect only if every address of the target is one `allow` allows (a
  /// name-built target's allow list, which must outlive the connector); otherwise fail with
  /// ConnectFailed and EACCES, trying none.
  void only_to(const NameAllow& allow) noexcept { allow_ = &allow; }
  /// Whether the owner writes to the backend as soon as it is connected (the bytes the
  /// detectors saw, a PROXY header): the handshake's last ACK then leaves with those bytes.
  /// Applies to the connects started from now on.
  void sends_first(bool yes) noexcept { sends_first_ = yes; }
  /// A name is being resolved (its request cannot be reused until its callback has come).
  [[nodiscard]] bool resolving() const noexcept { return resolving_; }

 private:
  static void on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* result);
  void on_ready(Socket& socket) override;
  void on_deadline() override;
  void try_next();
  void retry(int error);
  void fail(CloseReason why, int error);
  /// Forgets a previous target, so that connect() may be called again after a failure.
  void forget_target() noexcept;

  Owner* owner_;
  uv_loop_t* loop_;
  EventSet* events_;
  Deadline* deadline_;
  Lifeline* lifeline_;
  /// Whether `allow_` (if any) allows every address to try; fails the connect if not.
  bool addresses_allowed();

  const NameAllow* allow_ = nullptr;
  const Endpoint* to_ = nullptr;
  const sockaddr* literal_ = nullptr;  ///< the one address to try, if `to_` is not a name
  ConnectFrom from_;
  std::uint32_t timeout_ms_ = 0;
  Socket socket_;  ///< the attempt in progress
  uv_getaddrinfo_t resolve_{};
  addrinfo* addresses_ = nullptr;
  addrinfo* next_address_ = nullptr;
  int last_error_ = -ECONNREFUSED;
  bool literal_tried_ = false;
  bool resolving_ = false;
  bool active_ = false;  ///< connecting, and the owner wants to hear of it
  bool sends_first_ = false;
};

}  // namespace passthru::core
