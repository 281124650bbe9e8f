// Relay: both directions of a forwarded connection, client -> backend and backend -> client.
// A direction starts by copying through a pooled buffer: for the few small reads most
// connections make, read(2) and write(2) cost less than splicing through a pipe (about 10% of
// passthru's CPU per connection). Once one read fills the buffer, the bytes are coming in bulk,
// and from then on they move through a kernel pipe with splice(2), never copied into
// passthru's memory; when the worker has no pipe to spare (it keeps their number within its
// share of the descriptors), the direction goes on copying, as HAProxy does past its maxpipes.
// Backpressure: a direction reads again only once what it read is all written, so a slow side
// stops reads on the fast side and each direction holds at most one pipe's or buffer's worth.
// Half-close: the source's EOF becomes a shutdown(SHUT_WR) of the sink once every byte is out.
// An idle connection holds no pipe and no buffer: one is taken for the bytes just read and
// given back once they are written. Errors are reported to the owner, which decides how to
// close; the owner closes the sockets after stop().
#pragma once

#include <uv.h>

#include <cstdint>

#include "buffer_pool.hpp"
#include "pipe_pool.hpp"
#include "relay_poller.hpp"

namespace passthru::core {

class RelayOwner {
 public:
  /// Both sources sent EOF and both sinks were shut down for writing.
  virtual void on_relay_finished() = 0;
  /// `status` is a libuv error; `client_side` says which socket it came from.
  virtual void on_relay_failed(bool client_side, int status) = 0;

 protected:
  ~RelayOwner() = default;
};

class Relay {
 public:
  Relay(RelayOwner& owner, RelayPoller& poller, PipePool& pipes, BufferPool& buffers) noexcept
      : owner_(&owner), poller_(&poller), pipes_(&pipes), buffers_(&buffers) {}
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;
  ~Relay() { stop(); }

  /// Starts relaying. The client's handle may not be reading or writing; `client_in_loop`: it
  /// was ever read through libuv, so it may still be in the loop's epoll set. The backend socket
  /// is already watched in the RelayPoller, its events passed to backend_events();
  /// `backend_readable`: an event since it was watched said it may be readable.
  /// `client_finished`: the client already sent EOF (while being sniffed). The owner may hear of
  /// the end before this returns.
  void start(uv_tcp_t* client, bool client_in_loop, int backend, bool backend_readable, bool client_finished);
  /// What to tell of the backend socket's events.
  RelayPoller::Handler& backend_events() noexcept { return backend_; }
  /// Stops for good, before the owner closes the sockets; bytes not yet written are dropped.
  void stop() noexcept;

  [[nodiscard]] std::uint64_t bytes_up() const noexcept { return up_.bytes; }
  [[nodiscard]] std::uint64_t bytes_down() const noexcept { return down_.bytes; }
  /// Adds bytes sent to the backend before the relay started (the sniffed prefix).
  void count_up(std::uint64_t n) noexcept { up_.bytes += n; }

 private:
  struct Direction {
    int from = -1;
    int to = -1;
    KernelPipe* pipe = nullptr;  ///< holds what was read, or else...
    char* buffer = nullptr;      ///< ...this does, when no pipe was to be had
    std::size_t buffered_at = 0;  ///< where in `buffer` the bytes not yet written start
    std::size_t in_flight = 0;    ///< bytes read from `from` not yet written to `to`
    std::uint64_t bytes = 0;  ///< bytes written to `to`
    bool bulk = false;        ///< a read filled the buffer: splice from now on
    bool readable = false;    ///< no read has said EAGAIN since epoll said readable
    bool writable = true;     ///< no write has said EAGAIN since epoll said writable
    bool eof = false;         ///< `from` sent EOF
    bool shut = false;        ///< `to` was shut down for writing
  };

  /// One socket as the poller sees it: its events concern the direction it is the source of
  /// (readable) and the one it is the sink of (writable).
  class Socket final : public RelayPoller::Handler {
   public:
    Socket(Relay& relay, Direction& source_of, Direction& sink_of) noexcept
        : relay_(&relay), source_of_(&source_of), sink_of_(&sink_of) {}
    void on_events(std::uint32_t events) override;

   private:
    Relay* relay_;
    Direction* source_of_;
    Direction* sink_of_;
  };

  void pump(Direction& d);
  bool write_out(Direction& d);
  bool read_in(Direction& d);
  void shut_sink(Direction& d);
  void fail(const Direction& d, bool at_source, int error);
  void give_back(Direction& d) noexcept;

  RelayOwner* owner_;
  RelayPoller* poller_;
  PipePool* pipes_;
  BufferPool* buffers_;
  Direction up_;    ///< client -> backend
  Direction down_;  ///< backend -> client
  Socket client_{*this, up_, down_};
  Socket backend_{*this, down_, up_};
  bool running_ = false;
};

}  // namespace passthru::core
