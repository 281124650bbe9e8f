// ConnectionLimits: the process's count of live connections, against max_connections (the
// whole process, and each listener) and max_connections_per_source (each listener, per client
// address). One instance is shared by every worker: the limits are the process's, and the
// kernel spreads connections between workers unevenly (SO_REUSEPORT hashes each 4-tuple), so
// a limit divided between workers would refuse some clients while another worker had room.
// The totals are atomics: one increment and one decrement per connection. Counts per source
// need a table: it is split into stripes, each a small map under its own mutex, taken only
// when a listener has max_connections_per_source and held for one hash lookup, so workers
// rarely meet on it. It decides admissions only; refusing a connection is the worker's.
// A listener's counts live in its PerListener, which a reload keeps for a listener that stays.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "../config/config.hpp"

namespace passthru::core {

class ConnectionLimits {
 public:
  /// Why a connection was not admitted.
  enum class Verdict : std::uint8_t { Admitted, ProcessFull, ListenerFull, SourceFull };

  struct Stripe {
    std::mutex lock;
    std::unordered_map<std::string, std::uint32_t> counts;  ///< by address bytes, port left out
  };
  /// One listener's limits and counts, shared by every worker's socket for it, and by every
  /// connection it accepted (so a connection accepted before a reload gives its count back to
  /// the listener it was counted on).
  struct PerListener {
    std::atomic<std::uint32_t> max_connections{0};  ///< 0: no limit
    std::atomic<std::uint32_t> max_per_source{0};   ///< 0: no limit
    std::atomic<std::uint32_t> live{0};
    std::atomic<std::uint64_t> refused_in_episode{0};
    std::atomic<std::uint64_t> last_refused_ms{0};
    std::unique_ptr<Stripe[]> sources;  ///< made with the first per-source limit; counts from then on
  };

  explicit ConnectionLimits(std::uint32_t max_connections = 0) : max_connections_(max_connections) {}
  ConnectionLimits(const ConnectionLimits&) = delete;
  ConnectionLimits& operator=(const ConnectionLimits&) = delete;

  /// A reload changed the process's limit: connections over it stay, new ones wait for room.
  void set_max_connections(std::uint32_t max_connections) noexcept { max_connections_ = max_connections; }

  /// The counts of a listener configured as `server`. `kept`: the same listener's before a
  /// reload, which keeps its counts and takes the new limits. A per-source limit where there
  /// was none starts a new count (connections accepted before it are not counted against it).
  static std::shared_ptr<PerListener> for_listener(const ServerConfig& server, std::shared_ptr<PerListener> kept = {});

  /// Counts a connection just accepted on `listener` from `source`, unless that would pass a
  /// limit; then nothing is counted.
  Verdict admit(PerListener& listener, const IpAddress& source);
  /// The connection counted by admit() ended.
  void release(PerListener& listener, const IpAddress& source) noexcept;
  /// A trusted PROXY header gave the connection another client address: its per-source count
  /// moves from `from` to `to`, unless `to` is at its limit (then `from` keeps it, and the
  /// caller ends the connection, which releases `from` as usual).
  bool move_source(PerListener& listener, const IpAddress& from, const IpAddress& to);

  /// Counts one connection refused on `listener` at `now_ms` (a loop's uv_now); true if it
  /// starts an episode, which is worth one log line.
  bool refused(PerListener& listener, std::uint64_t now_ms) noexcept;
  /// A connection was admitted on `listener` at `now_ms`. An episode ends once a connection is
  /// admitted a quiet second after the last refusal (so a flood from one source beside other
  /// clients is one episode, not one per refusal): returns how many it refused, else 0.
  std::uint64_t admitting_again(PerListener& listener, std::uint64_t now_ms) noexcept;

 private:
  static constexpr std::size_t kStripes = 64;
  static constexpr std::uint64_t kQuietMs = 1000;  ///< without a refusal, the episode is over

  bool take_source(PerListener& listener, const IpAddress& source);
  void give_source(PerListener& listener, const IpAddress& source) noexcept;

  std::atomic<std::uint32_t> max_connections_{0};  ///< the whole process; 0: no limit
  std::atomic<std::uint32_t> live_{0};
};

/// The short reason a log line gives for a refusal.
const char* describe(ConnectionLimits::Verdict verdict) noexcept;

}  // namespace passthru::core
