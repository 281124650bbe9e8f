// Worker: one event loop on its own thread, with its own listening socket for each server
// (the kernel spreads connections between workers through SO_REUSEPORT), its own EventSet for
// connection sockets, and its own buffer and pipe pools. Nothing on the per-connection path is
// shared between workers, so nothing is locked.
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "../config/config.hpp"
#include "buffer_pool.hpp"
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
  std::string name;  ///< the bound address, "127.0.0.1:8443" (the real port when the config says 0)
  std::unique_ptr<BufferPool> sniff_pool;  ///< ConnBufs of this server's max_sniff_bytes
  std::uint64_t refused_for_descriptors = 0;  ///< connections left waiting in this episode
};

class Worker {
 public:
  /// A worker ready to run. `listen_fds[i]` is a bound, listening socket for
  /// config.servers[i], owned from now on (closed on failure too); `names[i]` its bound
  /// address, for logs. nullptr with `error` set when the loop cannot be set up (out of
  /// descriptors): failures are returned, not thrown, so that reporting them needs nothing.
  static std::unique_ptr<Worker> open(const Config& config, const std::vector<int>& listen_fds,
                                      const std::vector<std::string>& names, std::string& error);
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
  void add(Connection* connection) noexcept;
  void remove(Connection* connection) noexcept;

 private:
  Worker();
  bool set_up(const Config& config, const std::vector<int>& listen_fds, const std::vector<std::string>& names,
              std::string& error);
  static void on_acceptable(uv_poll_t* poll, int status, int events);
  static void on_backoff_over(uv_timer_t* timer);
  static void on_stop(uv_async_t* async);
  void accept_one(Listener& listener);

  uv_loop_t loop_{};
  bool loop_open_ = false;
  uv_async_t stop_{};
  std::vector<std::unique_ptr<Listener>> listeners_;
  BufferPool relay_pool_;  ///< for M-PROXY tunnels, and relays when no pipe is to be had
  std::unique_ptr<EventSet> event_set_;
  PipePool pipe_pool_;
  Connection* connections_ = nullptr;
  bool stopping_ = false;
};

}  // namespace passthru::core
