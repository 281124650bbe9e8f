// Worker: one event loop on its own thread, with its own listening socket for each server
// (the kernel spreads connections between workers through SO_REUSEPORT) and its own buffer
// pools. Nothing on the per-connection path is shared between workers, so nothing is locked.
#pragma once

#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "../config/config.hpp"
#include "buffer_pool.hpp"
#include "pipe_pool.hpp"
#include "relay_poller.hpp"

namespace passthru::core {

class Connection;
class Worker;

struct Listener {
  uv_tcp_t handle{};
  Worker* worker = nullptr;
  const ServerConfig* server = nullptr;
  std::string name;  ///< the bound address, "127.0.0.1:8443" (the real port when the config says 0)
  std::unique_ptr<BufferPool> sniff_pool;  ///< ConnBufs of this server's max_sniff_bytes
};

class Worker {
 public:
  /// `listen_fds[i]` is a bound, listening socket for config.servers[i], owned from now on;
  /// `names[i]` its bound address, for logs.
  Worker(const Config& config, const std::vector<int>& listen_fds, const std::vector<std::string>& names);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker();

  /// Runs the loop until stop() is called and every connection has closed.
  void run();
  /// Thread-safe: asks the loop to stop accepting, close every connection and return.
  void stop();

  uv_loop_t* loop() noexcept { return &loop_; }
  BufferPool& relay_pool() noexcept { return relay_pool_; }
  RelayPoller& relay_poller() noexcept { return *relay_poller_; }
  PipePool& pipe_pool() noexcept { return pipe_pool_; }
  void add(Connection* connection) noexcept;
  void remove(Connection* connection) noexcept;

 private:
  static void on_connection(uv_stream_t* server, int status);
  static void on_stop(uv_async_t* async);

  uv_loop_t loop_{};
  uv_async_t stop_{};
  std::vector<std::unique_ptr<Listener>> listeners_;
  BufferPool relay_pool_;  ///< for M-PROXY tunnels, and relays when no pipe is to be had
  std::unique_ptr<RelayPoller> relay_poller_;
  PipePool pipe_pool_;
  Connection* connections_ = nullptr;
};

}  // namespace passthru::core
