// BackendPool: the backends of a FORWARD whose to_addr is a list, how one is chosen for each
// connection (balance), and their passive health (a failed or timed-out connect marks one down
// for down_ms). Its state is counters that every worker reads and writes with relaxed atomics;
// it does no I/O.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "endpoint.hpp"

namespace passthru::core {

/// How a BackendPool chooses among its backends.
enum class Balance : std::uint8_t { RoundRobin, LeastConn, SourceHash };

/// The backends of a FORWARD whose to_addr is a list, with their shared state: which are down
/// (passive health: a failed or timed-out connect marks one down for down_ms), how many
/// connections each holds (least_conn) and the round-robin turn. Made by the config loader and
/// shared by every worker through the rule; a reload makes a new one (health starts afresh).
class BackendPool {
 public:
  static constexpr std::size_t kMaxBackends = 16;
  /// A choice: the backend's index, or kNone.
  static constexpr std::uint8_t kNone = 0xFF;

  BackendPool(std::vector<Endpoint> backends, Balance balance, std::uint32_t down_ms);

  [[nodiscard]] const std::vector<Endpoint>& backends() const noexcept { return backends_; }
  [[nodiscard]] Balance balance() const noexcept { return balance_; }
  [[nodiscard]] std::uint32_t down_ms() const noexcept { return down_ms_; }

  /// The backend to try next for `client` at `now_ms` (a monotonic clock in milliseconds),
  /// leaving out those whose bit is set in `tried`. Backends that are up come first; when every
  /// untried one is down, the one whose down time ends first is tried all the same.
  [[nodiscard]] std::uint8_t pick(const sockaddr* client, std::uint64_t now_ms, std::uint32_t tried) noexcept;
  /// A connect to backend `i` failed or timed out: it is down until now_ms + down_ms.
  void mark_down(std::uint8_t i, std::uint64_t now_ms) noexcept;
  /// A connect to backend `i` succeeded: it is up, and holds one more connection until released.
  void connected(std::uint8_t i) noexcept;
  void released(std::uint8_t i) noexcept;
  [[nodiscard]] bool is_down(std::uint8_t i, std::uint64_t now_ms) const noexcept;
  [[nodiscard]] std::uint32_t active(std::uint8_t i) const noexcept { return state_[i].active.load(std::memory_order_relaxed); }

 private:
  struct State {
    std::atomic<std::uint64_t> down_until{0};
    std::atomic<std::uint32_t> active{0};
  };
  std::vector<Endpoint> backends_;
  Balance balance_;
  std::uint32_t down_ms_;
  std::unique_ptr<State[]> state_;
  std::atomic<std::uint32_t> turn_{0};
};

/// A stable 64-bit hash of a client's address (its port left out), for source_hash: the same
/// on every run and every machine (FNV-1a over the address bytes, mixed with the backend's index).
std::uint64_t source_weight(const sockaddr* client, std::uint8_t backend) noexcept;

}  // namespace passthru::core
