// Counters: what one worker counts for the metrics endpoint. Each count is written by its
// worker's thread alone and read by the thread that answers a scrape, so it is a relaxed atomic
// that the worker updates with a plain load and store (no locked instruction, nothing shared with
// another worker: a scrape sums the workers). WorkerMetrics owns them, keyed by their labels; a
// connection reaches its counts through pointers resolved when its listener's rules were made,
// so the connection path never looks a label up.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>

#include "../router/detection.hpp"
#include "../server/close_reason.hpp"

namespace passthru::core {

/// Seconds from `since` to now, for the histograms.
inline double seconds_since(std::chrono::steady_clock::time_point since) noexcept {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

class Counter {
 public:
  void add(std::uint64_t n = 1) noexcept {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t get() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

/// Durations in seconds, in the buckets every passthru histogram uses (from 100 µs to 10 s).
class Histogram {
 public:
  static constexpr std::array<double, 11> kBounds{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                  0.01,   0.025,   0.1,    1,     10};
  void observe(double seconds) noexcept;
  [[nodiscard]] std::uint64_t bucket(std::size_t i) const noexcept { return buckets_[i].get(); }  ///< not cumulative
  [[nodiscard]] std::uint64_t count() const noexcept { return count_.get(); }
  [[nodiscard]] double sum() const noexcept {
    return static_cast<double>(sum_ns_.get()) / 1e9;
  }

 private:
  std::array<Counter, kBounds.size()> buckets_;  ///< the last bound's and below; above: count only
  Counter count_;
  Counter sum_ns_;
};

/// Why a listener refused a connection, as the `limit` label says it.
enum class Refusal : std::uint8_t { ProcessMax, ListenerMax, PerSource, Descriptors };
inline constexpr std::array<const char*, 4> kRefusalLabels{"max_connections", "listener_max_connections",
                                                            "max_connections_per_source", "descriptors"};

inline constexpr std::size_t kCloseReasons = static_cast<std::size_t>(CloseReason::Shutdown) + 1;
inline constexpr std::size_t kFallbackReasons = static_cast<std::size_t>(FallbackReason::Timeout) + 1;

/// One listener's counts, by its bound address (kept through reloads while the address stays).
struct ListenerCounters {
  Counter accepted;
  Counter closed;  ///< active = accepted - closed
  std::array<Counter, kRefusalLabels.size()> refused;
  std::array<Counter, kFallbackReasons> fallbacks;
  std::array<Counter, kCloseReasons> ends;
  Histogram detection;
  Histogram backend_connect;
  Counter tunnels_opened;
  Counter tunnels_closed;
  Counter streams_opened;
  std::array<Counter, kCloseReasons> stream_ends;  ///< streams closed = their sum
};

/// One rule's counts: its decisions, and the bytes of the connections (and streams) it routed.
struct RuleCounters {
  Counter decisions;
  Counter bytes_up;
  Counter bytes_down;
};

/// The labels of one rule: listener, protocol table ("-" for the server CATCHALL), rule key, action.
using RuleLabels = std::tuple<std::string, std::string, std::string, std::string>;

/// One backend of a FORWARD with several (a to_addr list): connections it accepted, and
/// connects to it that failed or timed out (each of which marked it down).
struct BackendCounters {
  Counter connections;
  Counter connect_failures;
};

/// The labels of one backend: listener, protocol table, rule key, and the backend as to_addr wrote it.
using BackendLabels = std::tuple<std::string, std::string, std::string, std::string>;

class WorkerMetrics {
 public:
  /// The counts of one backend of a rule, made on first use (when rules are made).
  BackendCounters& backend(const BackendLabels& labels);
  void visit_backends(const std::function<void(const BackendLabels&, const BackendCounters&)>& each) const;

  /// The counts of a listener or a rule, made on first use. Called when rules are made (at
  /// start and on reload), never per connection.
  ListenerCounters& listener(const std::string& name);
  RuleCounters& rule(const RuleLabels& labels);

  /// Calls `visit` with every count, under the lock that guards the tables' shape.
  void visit(const std::function<void(const std::string&, const ListenerCounters&)>& listeners,
             const std::function<void(const RuleLabels&, const RuleCounters&)>& rules) const;

 private:
  mutable std::mutex lock_;  ///< the maps' shape; counts themselves are read without it
  std::map<std::string, std::unique_ptr<ListenerCounters>> listeners_;
  std::map<RuleLabels, std::unique_ptr<RuleCounters>> rules_;
  std::map<BackendLabels, std::unique_ptr<BackendCounters>> backends_;
};

}  // namespace passthru::core
