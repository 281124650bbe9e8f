// Relay: both directions of a forwarded connection, client -> backend and backend -> client.
// Bytes move from one socket to the other through a kernel pipe with splice(2), so they are
// never copied into passthru's memory.
// Backpressure: a direction reads again only once its pipe is empty, so a slow side stops
// reads on the fast side and each direction holds at most one pipe's worth of bytes.
// Half-close: the source's EOF becomes a shutdown(SHUT_WR) of the sink once every byte is out.
// An idle connection holds no pipe: one is taken from the worker's pool for the bytes just
// read and given back when it is empty. Errors are reported to the owner, which decides how to
// close; the owner closes the sockets after stop().
#pragma once

#include <uv.h>

#include <cstdint>

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
  Relay(RelayOwner& owner, RelayPoller& poller, PipePool& pipes) noexcept
      : owner_(&owner), poller_(&poller), pipes_(&pipes) {}
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;
  ~Relay() { stop(); }

  /// Starts relaying. Neither handle may be reading or writing. `client_finished`: the client
  /// already sent EOF (while being sniffed). The owner may hear of the end before this returns.
  void start(uv_tcp_t* client, uv_tcp_t* backend, bool client_finished);
  /// Stops for good, before the owner closes the sockets; bytes still in a pipe are dropped.
  void stop() noexcept;

  [[nodiscard]] std::uint64_t bytes_up() const noexcept { return up_.bytes; }
  [[nodiscard]] std::uint64_t bytes_down() const noexcept { return down_.bytes; }
  /// Adds bytes sent to the backend before the relay started (the sniffed prefix).
  void count_up(std::uint64_t n) noexcept { up_.bytes += n; }

 private:
  struct Direction {
    int from = -1;
    int to = -1;
    KernelPipe* pipe = nullptr;
    std::size_t in_pipe = 0;  ///< bytes read from `from` not yet written to `to`
    std::uint64_t bytes = 0;  ///< bytes written to `to`
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
  bool drain_pipe(Direction& d);
  bool fill_pipe(Direction& d);
  void shut_sink(Direction& d);
  void fail(const Direction& d, bool at_source, int error);
  void drop_pipe(Direction& d) noexcept;

  RelayOwner* owner_;
  RelayPoller* poller_;
  PipePool* pipes_;
  Direction up_;    ///< client -> backend
  Direction down_;  ///< backend -> client
  Socket client_{*this, up_, down_};
  Socket backend_{*this, down_, up_};
  bool running_ = false;
};

}  // namespace passthru::core
