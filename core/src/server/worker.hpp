// Worker: one event loop on its own thread, with its own listening socket for each server
// (the kernel spreads connections between workers through SO_REUSEPORT), its own EventSet for
// connection sockets, and its own buffer and pipe pools. On the per-connection path workers
// share only the ConnectionLimits counts (atomics; a striped lock for per-source counts).
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "../config/config.hpp"
#include "buffer_pool.hpp"
#include "connection_limits.hpp"
#include "event_set.hpp"
#include "pipe_pool.hpp"

namespace passthru::core {

class Connection;
class Worker;

/// One listening socket of one worker. Connections are taken with accept4(2), which gives the
/// peer's address with the descriptor; libuv only says when the socket is readable.
struct Listener {
  int fd = -1;
  uv_poll_t poll{};
  bool poll_open = false;
  uv_timer_t backoff{};  ///< out of descriptors: accepting waits for this
  Worker* worker = nullptr;
  const ServerConfig* server = nullptr;
  std::size_t index = 0;  ///< of `server` in the config, as ConnectionLimits counts listeners
  std::string name;  ///< the bound address, "127.0.0.1:8443" (the real port when the config says 0)
  std::unique_ptr<BufferPool> sniff_pool;  ///< ConnBufs of this server's max_sniff_bytes
  std::uint64_t refused_for_descriptors = 0;  ///< accepts that failed for want of a descriptor, this episode
  std::uint64_t out_of_descriptors_at = 0;    ///< uv_now of the last of them
};

class Worker {
 public:
  /// `listen_fds[i]` is a bound, listening socket for config.servers[i], owned from now on;
  /// `names[i]` its bound address, for logs. Throws std::runtime_error (or std::system_error)
  /// when the loop cannot be set up, e.g. out of descriptors. `limits` is shared by every worker.
  Worker(const Config& config, const std::vector<int>& listen_fds, const std::vector<std::string>& names,
         ConnectionLimits& limits);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker();

  /// Runs the loop until stop() is called and every connection has closed.
  void run();
  /// Thread-safe: asks the loop to stop accepting, close every connection and return.
  void stop();

  uv_loop_t* loop() noexcept { return &loop_; }
  BufferPool& relay_pool() noexcept { return relay_pool_; }
  EventSet& event_set() noexcept { return *event_set_; }
  PipePool& pipe_pool() noexcept { return pipe_pool_; }
  ConnectionLimits& limits() noexcept { return *limits_; }
  void add(Connection* connection) noexcept;
  void remove(Connection* connection) noexcept;

 private:
  static void on_acceptable(uv_poll_t* poll, int status, int events);
  static void on_backoff_over(uv_timer_t* timer);
  static void on_stop(uv_async_t* async);
  void accept_one(Listener& listener);
  /// Closes a connection a limit does not admit, with a reset, and says so once an episode.
  void refuse(Listener& listener, int fd, ConnectionLimits::Verdict why);

  uv_loop_t loop_{};
  uv_async_t stop_{};
  std::vector<std::unique_ptr<Listener>> listeners_;
  BufferPool relay_pool_;  ///< for M-PROXY tunnels, and relays when no pipe is to be had
  std::unique_ptr<EventSet> event_set_;
  PipePool pipe_pool_;
  ConnectionLimits* limits_;
  Connection* connections_ = nullptr;
  bool stopping_ = false;
};

}  // namespace passthru::core
