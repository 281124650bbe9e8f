// Worker: one event loop on its own thread, with its own listening socket for each server
// (the kernel spreads connections between workers through SO_REUSEPORT), its own EventSet for
// connection sockets, and its own buffer and pipe pools. On the per-connection path workers
// share only the ConnectionLimits counts (atomics; a striped lock for per-source counts).
// A reload hands each worker its new listeners (ListenerPlan): a listener that stays keeps its
// socket and takes new rules; connections already accepted keep the rules they came with.
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <atomic>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "../config/config.hpp"
#include "../metrics/counters.hpp"
#include "../metrics/listener_metrics.hpp"
#include "access_log.hpp"
#include "buffer_pool.hpp"
#include "connection_limits.hpp"
#include "deadline.hpp"
#include "event_set.hpp"
#include "lifeline.hpp"
#include "pipe_pool.hpp"

namespace passthru::core {

class Connection;
class Tunnel;
class TunnelLink;
class Worker;

/// What a listener applies to the connections it accepts: its part of the config in force when
/// they were accepted. Every connection holds its listener's, so a reload gives the listener
/// new rules without touching the connections already accepted, and the old config, with the
/// plugin libraries its protocols came from, stays loaded until the last of them has ended.
struct ListenerRules {
  ListenerRules(std::uint64_t listener, std::shared_ptr<const Config> config, const ServerConfig& server,
                std::string name, std::shared_ptr<ConnectionLimits::PerListener> counts, WorkerMetrics& metrics);
  std::uint64_t listener;  ///< the Listener's id in its worker, the same through reloads
  std::shared_ptr<const Config> config;
  const ServerConfig& server;  ///< within `config`
  std::string name;  ///< the bound address, "127.0.0.1:8443" (the real port when the config says 0)
  std::shared_ptr<ConnectionLimits::PerListener> counts;  ///< the listener's, across reloads
  BufferPool sniff_pool;  ///< ConnBufs of this server's max_sniff_bytes
  ListenerMetrics metrics;  ///< in the worker's WorkerMetrics
};

/// One listener as the thread that loads the config hands it to a worker.
struct ListenerPlan {
  /// The worker's listening socket for it: one it has already (a listener that stays through a
  /// reload) or a new one, which is the worker's from now on (closed on failure too).
  int fd = -1;
  bool fresh = false;  ///< a socket opened for this plan (else one the worker has already)
  const ServerConfig* server = nullptr;  ///< within the config handed over with the plan
  std::string name;
  std::shared_ptr<ConnectionLimits::PerListener> counts;
};

/// One listening socket of one worker, watched in the worker's EventSet. Connections are taken
/// with accept4(2), which gives the peer's address with the descriptor.
struct Listener final : EventSet::Acceptor {
  void on_acceptable() override;

  std::uint64_t id = 0;  ///< unique in its worker
  int fd = -1;
  uv_timer_t backoff{};  ///< out of descriptors: accepting waits for this; the Listener is freed when it closes
  Worker* worker = nullptr;
  std::uint64_t told_in_turn = 0;  ///< the EventSet's turn in which it was last told of a connection
  std::shared_ptr<ListenerRules> rules;  ///< for the connections it accepts from now on
  std::uint64_t refused_for_descriptors = 0;  ///< accepts that failed for want of a descriptor, this episode
  std::uint64_t out_of_descriptors_at = 0;    ///< uv_now of the last of them
};

class Worker {
 public:
  /// A worker ready to run the `listeners` of `config`; `limits` is shared by every worker.
  /// nullptr with `error` set when the loop cannot be set up (out of descriptors): failures are
  /// returned, not thrown, so that reporting them needs nothing.
  static std::unique_ptr<Worker> open(std::shared_ptr<const Config> config, std::vector<ListenerPlan> listeners,
                                      ConnectionLimits& limits, std::string& error);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker();

  /// Runs the loop until stop() is called, or drain() and every connection has closed.
  void run();
  /// Thread-safe: run() has returned.
  bool finished() const noexcept { return finished_; }
  /// Thread-safe: asks the loop to close its listening sockets now, let its connections finish
  /// for up to `timeout_ms`, then close the rest (end=shutdown) and return.
  void drain(std::uint32_t timeout_ms);
  /// Thread-safe: asks the loop to stop accepting, close every connection now and return.
  void stop();
  /// Thread-safe: asks the loop to take `listeners` of `config` for the connections it accepts
  /// from now on. Its listeners not in the plan close, and their connections have
  /// `drain_timeout_ms` to finish. Ready once the loop has done it (or is stopping); one at a
  /// time: wait for each before asking for the next.
  std::future<void> reload(std::shared_ptr<const Config> config, std::vector<ListenerPlan> listeners,
                           std::uint32_t drain_timeout_ms);

  uv_loop_t* loop() noexcept { return &loop_; }
  BufferPool& relay_pool() noexcept { return relay_pool_; }
  /// Blocks the size of a Connection, for Connection::start.
  BufferPool& connection_memory() noexcept { return connection_memory_; }
  EventSet& event_set() noexcept { return *event_set_; }
  DeadlineQueue& deadlines() noexcept { return *deadlines_; }
  Lifeline::ReleaseList& releases() noexcept { return releases_; }
  PipePool& pipe_pool() noexcept { return pipe_pool_; }
  ConnectionLimits& limits() noexcept { return *limits_; }
  AccessLog& access_log() noexcept { return *access_log_; }
  /// What this worker counted, for the metrics endpoint (thread-safe to read).
  const WorkerMetrics& metrics() const noexcept { return metrics_; }
  void add(Connection* connection) noexcept;
  void remove(Connection* connection) noexcept;
  /// This worker's counts, to be added to (tunnel links count under a name of their own).
  WorkerMetrics& counters() noexcept { return metrics_; }
  /// This worker's link for `config`'s tunnels[index], made on first use (kept by name: a
  /// reload's tunnel of the same name keeps the running link and its settings).
  TunnelLink& tunnel_link(const std::shared_ptr<const Config>& config, std::size_t index);
  /// Reverse tunnels: a DEMUX tunnel authenticated as `name` offers itself to this worker's MUX
  /// rules for the names its grant lists, until withdrawn; the latest registered is used.
  void register_tunnel(const std::string& name, Tunnel& tunnel);
  void withdraw_tunnel(Tunnel& tunnel) noexcept;
  /// The tunnel registered as `name` whose grant lists `host` (exactly, or as "*.suffix"), or nullptr.
  Tunnel* registered_tunnel(const std::string& name, std::string_view host) const noexcept;

 private:
  Worker();
  explicit Worker(ConnectionLimits& limits);
  struct Reload {
    std::shared_ptr<const Config> config;
    std::vector<ListenerPlan> listeners;
    std::uint32_t drain_timeout_ms = 0;
    std::promise<void> done;
  };
  /// A listener closed by a reload: its connections are closed once `deadline` (uv_now) passes.
  struct Retired {
    std::uint64_t listener = 0;
    std::uint64_t deadline = 0;
  };

  bool set_up(std::shared_ptr<const Config> config, std::vector<ListenerPlan> listeners, std::string& error);
  /// Starts accepting on `plan.fd`; on failure closes it and returns false with `error` set.
  bool add_listener(const std::shared_ptr<const Config>& config, const ListenerPlan& plan, std::string& error);
  void apply(Reload& reload);
  /// Closes the sockets opened for a plan that will not be applied.
  static void close_fresh(const std::vector<ListenerPlan>& listeners);
  static void on_backoff_over(uv_timer_t* timer);
  /// What the thread that takes signals asked for, through `wake_`: reload, drain, or stop now.
  static void on_asked(uv_async_t* async);
  static void on_drain_over(uv_timer_t* timer);
  static void on_retired_over(uv_timer_t* timer);
  static void on_listener_handle_closed(uv_handle_t* handle);
  /// Closes one listening socket; the Listener frees itself once libuv is done with it.
  void close_listener(std::unique_ptr<Listener> listener);
  void close_listeners();
  /// Closes the listening sockets if still open, every connection (end=shutdown) and every
  /// handle, so the loop returns.
  void stop_now();
  void run_until_all_closed();
  friend struct Listener;
  /// Takes one connection; false when there was none to take (or accepting must wait).
  bool accept_one(Listener& listener);
  /// Closes a connection a limit does not admit, with a reset, and says so once an episode.
  void refuse(Listener& listener, int fd, ConnectionLimits::Verdict why);

  uv_loop_t loop_{};
  bool loop_open_ = false;
  uv_async_t wake_{};
  uv_timer_t drain_over_{};  ///< draining: the connections still open then are closed
  uv_timer_t retired_over_{};  ///< the first deadline in `retired_`
  enum Asked : int { kNothing, kDrain, kStop };
  std::atomic<int> asked_{kNothing};
  std::atomic<std::uint32_t> drain_timeout_ms_{0};
  std::atomic<bool> finished_{false};
  std::mutex reload_lock_;
  std::optional<Reload> reload_;  ///< asked for, under reload_lock_
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::vector<Retired> retired_;
  std::uint64_t listeners_made_ = 0;
  BufferPool relay_pool_;  ///< for M-PROXY tunnels, and relays when no pipe is to be had
  BufferPool connection_memory_;  ///< every connection has gone before it does (~Worker runs the loop out)
  std::unique_ptr<EventSet> event_set_;
  std::unique_ptr<DeadlineQueue> deadlines_;  ///< made with the loop; outlives every Deadline in the connections and links below
  Lifeline::ReleaseList releases_;
  PipePool pipe_pool_;
  ConnectionLimits* limits_;
  WorkerMetrics metrics_;  ///< outlives every ListenerRules, whose counts it holds
  std::unique_ptr<AccessLog> access_log_;  ///< made with the loop
  Connection* connections_ = nullptr;
  /// Outgoing tunnels (MUX), by name; closed with the loop, freed after it (before event_set_).
  std::unordered_map<std::string, std::unique_ptr<TunnelLink>> tunnel_links_;
  std::vector<std::pair<std::string, Tunnel*>> registered_tunnels_;  ///< reverse tunnels, oldest first
  bool stopping_ = false;
  bool draining_ = false;
  bool listeners_closed_ = false;
};

}  // namespace passthru::core
