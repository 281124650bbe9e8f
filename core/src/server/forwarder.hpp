// Forwarder: the last stage of a FORWARD. It owns the client's and the backend's sockets from
// the moment the backend accepted until both are closed, and is the only thing told of their
// events. It first writes what the backend must see before anything else (a PROXY header, then
// the bytes the detectors saw), going on at the next writable edge if the socket fills; then it
// relays both ways:
//  - A direction starts by copying through a pooled buffer: for the few small reads most
//    connections make, read(2) and write(2) cost less than splicing through a pipe (about 10%
//    of passthru's CPU per connection). Once one read fills the buffer the bytes are coming in
//    bulk, and from then on they move through a kernel pipe with splice(2), never copied into
//    passthru's memory; when the worker has no pipe to spare, the direction goes on copying, as
//    HAProxy does past its maxpipes.
//  - Backpressure: a direction reads again only once what it read is all written, so a slow
//    side stops reads on the fast side and each direction holds at most one pipe's or buffer's
//    worth. An idle connection holds no pipe and no buffer.
//  - Half-close: a source's EOF becomes a shutdown(SHUT_WR) of its sink once every byte is out,
//    unless the sink's peer has already finished too: then closing both sockets sends the FIN.
//  - A reset or error on one side resets the other, which must not take a truncated stream for
//    a complete one.
//  - Timeouts (idle, half-closed, lifetime) are kept by a RelayClock: each read that brings bytes
//    stamps the loop's cached time, and the connection's Deadline fires only when the nearest
//    limit may have passed, to be armed again for what remains (relay_clock.hpp says how
//    precise that is). A timed-out connection is closed with a FIN both ways, not a reset.
// It closes its sockets itself when it ends and then tells its owner why.
#pragma once

#include <cstdint>
#include <string>

#include "buffer_pool.hpp"
#include "close_reason.hpp"
#include "conn_buf.hpp"
#include "deadline.hpp"
#include "pipe_pool.hpp"
#include "relay_clock.hpp"
#include "socket.hpp"

namespace passthru::core {

class Forwarder final : private Socket::Watcher, private Deadline::Expiry {
 public:
  class Owner {
   public:
    /// Both sockets are closed: `why` the forwarding ended, `error` the last error (a negated
    /// errno) or 0.
    virtual void on_forwarded(CloseReason why, int error) = 0;

   protected:
    ~Owner() = default;
  };

  /// `deadline` is the connection's, the Forwarder's from start() on.
  Forwarder(Owner& owner, PipePool& pipes, BufferPool& buffers, Deadline& deadline) noexcept
      : owner_(&owner), pipes_(&pipes), buffers_(&buffers), deadline_(&deadline) {}
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;
  ~Forwarder() { give_back_all(); }

  /// Takes both sockets and starts. `first` is written to the backend before anything else:
  /// `header` (a PROXY header, or empty), then `sniffed` from byte `offset` on (what a
  /// stripped header left). `client_finished`: the client already sent EOF. `timeouts` bound
  /// how long the relay may stay idle, half-closed, or open at all. The client socket
  /// may be watched already or not; the backend's is. The owner may hear of the end before
  /// this returns.
  void start(Socket client, Socket backend, std::string header, ConnBuf sniffed, std::size_t offset,
             bool client_finished, const RelayTimeouts& timeouts);
  /// Ends now (passthru is stopping): both sockets close; on_forwarded(why) follows at once.
  void stop(CloseReason why);
  [[nodiscard]] bool is_running() const noexcept { return running_; }

  [[nodiscard]] std::uint64_t bytes_up() const noexcept { return up_.bytes; }
  [[nodiscard]] std::uint64_t bytes_down() const noexcept { return down_.bytes; }

 private:
  struct Direction {
    Socket* from = nullptr;
    Socket* to = nullptr;
    KernelPipe* pipe = nullptr;   ///< holds what was read, or else...
    char* buffer = nullptr;       ///< ...this does, when no pipe was to be had
    std::size_t buffered_at = 0;  ///< where in `buffer` the bytes not yet written start
    std::size_t in_flight = 0;    ///< bytes read from `from` not yet written to `to`
    std::uint64_t bytes = 0;      ///< bytes written to `to`
    bool bulk = false;            ///< a read filled the buffer: splice from now on
    bool eof = false;             ///< `from` sent EOF
    bool shut = false;            ///< `to` was sent its FIN (or will be, at close)
  };

  void on_ready(Socket& socket) override;
  void on_deadline() override;
  /// Arms the Deadline for the nearest limit, or ends the relay if one has passed.
  void check_timeouts();
  void flush_first();
  void relay_ready(Socket& socket);
  void pump(Direction& d);
  bool write_out(Direction& d);
  bool read_in(Direction& d);
  void shut_sink(Direction& d);
  void fail(const Direction& d, bool at_source, int error);
  void finish(CloseReason why, int error, bool reset_client, bool reset_backend);
  void give_back(Direction& d) noexcept;
  void give_back_all() noexcept;

  Owner* owner_;
  PipePool* pipes_;
  BufferPool* buffers_;
  Deadline* deadline_;
  RelayClock clock_;
  Socket client_;
  Socket backend_;
  Direction up_;    ///< client -> backend
  Direction down_;  ///< backend -> client
  // The first flush: what the backend gets before the relay starts.
  std::string header_;
  ConnBuf sniffed_;
  std::size_t sniffed_offset_ = 0;
  std::size_t flushed_ = 0;  ///< bytes of header_ and the sniffed bytes written so far
  bool flushing_ = false;
  bool running_ = false;
};

}  // namespace passthru::core
