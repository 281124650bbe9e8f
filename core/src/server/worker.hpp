// Worker: one event loop on its own thread, with its own listening socket for each server
// (the kernel spreads connections between workers through SO_REUSEPORT), its own EventSet for
// connection sockets, and its own buffer and pipe pools. On the per-connection path workers
// share only the ConnectionLimits counts (atomics; a striped lock for per-source counts).
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <atomic>
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
  /// A worker ready to run. `listen_fds[i]` is a bound, listening socket for
  /// config.servers[i], owned from now on (closed on failure too); `names[i]` its bound
  /// address, for logs; `limits` is shared by every worker. nullptr with `error` set when the
  /// loop cannot be set up (out of descriptors): failures are returned, not thrown, so that
  /// reporting them needs nothing.
  static std::unique_ptr<Worker> open(const Config& config, const std::vector<int>& listen_fds,
                                      const std::vector<std::string>& names, ConnectionLimits& limits,
                                      std::string& error);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker();

  /// Runs the loop until stop() is called, or drain() and every connection has closed.
  void run();
  /// Thread-safe: asks the loop to close its listening sockets now, let its connections finish
  /// for up to `timeout_ms`, then close the rest (end=shutdown) and return.
  void drain(std::uint32_t timeout_ms);
  /// Thread-safe: asks the loop to stop accepting, close every connection now and return.
  void stop();

  uv_loop_t* loop() noexcept { return &loop_; }
  BufferPool& relay_pool() noexcept { return relay_pool_; }
  EventSet& event_set() noexcept { return *event_set_; }
  PipePool& pipe_pool() noexcept { return pipe_pool_; }
  ConnectionLimits& limits() noexcept { return *limits_; }
  void add(Connection* connection) noexcept;
  void remove(Connection* connection) noexcept;

 private:
  Worker();
  explicit Worker(ConnectionLimits& limits);
  bool set_up(const Config& config, const std::vector<int>& listen_fds, const std::vector<std::string>& names,
              std::string& error);
  static void on_acceptable(uv_poll_t* poll, int status, int events);
  static void on_backoff_over(uv_timer_t* timer);
  /// What the thread that takes signals asked for, through `wake_`: drain, or stop now.
  static void on_asked(uv_async_t* async);
  static void on_drain_over(uv_timer_t* timer);
  void close_listeners();
  /// Closes the listening sockets if still open, every connection (end=shutdown) and every
  /// handle, so the loop returns.
  void stop_now();
  void accept_one(Listener& listener);
  /// Closes a connection a limit does not admit, with a reset, and says so once an episode.
  void refuse(Listener& listener, int fd, ConnectionLimits::Verdict why);

  uv_loop_t loop_{};
  bool loop_open_ = false;
  uv_async_t wake_{};
  uv_timer_t drain_over_{};  ///< draining: the connections still open then are closed
  enum Asked : int { kNothing, kDrain, kStop };
  std::atomic<int> asked_{kNothing};
  std::atomic<std::uint32_t> drain_timeout_ms_{0};
  std::vector<std::unique_ptr<Listener>> listeners_;
  BufferPool relay_pool_;  ///< for M-PROXY tunnels, and relays when no pipe is to be had
  std::unique_ptr<EventSet> event_set_;
  PipePool pipe_pool_;
  ConnectionLimits* limits_;
  Connection* connections_ = nullptr;
  bool stopping_ = false;
  bool draining_ = false;
  bool listeners_closed_ = false;
};

}  // namespace passthru::core
