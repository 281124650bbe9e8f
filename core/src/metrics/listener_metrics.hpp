// ListenerMetrics: one listener's counts as the connections accepted with one version of its
// rules reach them. Made with the rules (at start and on each reload), it resolves every rule's
// counts once, so that counting a decision or an end costs a pointer lookup and a few plain
// stores on the worker's own memory.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "../config/config.hpp"
#include "../server/access_log.hpp"
#include "counters.hpp"

namespace passthru::core {

class ListenerMetrics {
 public:
  ListenerMetrics(WorkerMetrics& metrics, const std::string& listener, const ServerConfig& server);

  ListenerCounters& counters;

  /// Detection decided, `seconds` after the connection (or stream) began.
  void decided(const Decision& decision, double seconds) noexcept;
  /// The decision was replaced by the server CATCHALL (a MUX whose reverse tunnel is not up):
  /// the fallback is counted as a decision, but detection is not timed twice.
  void fell_back(const Decision& fallback) noexcept;
  /// A connection ended (record.end), having moved record's bytes.
  void connection_ended(const AccessRecord& record) noexcept;
  /// A connection reached backend `i` of `action`'s pool, or failed to (it is marked down).
  void backend_connected(const Action* action, std::uint8_t i) noexcept;
  void backend_failed(const Action* action, std::uint8_t i) noexcept;
  /// A stream of an M-PROXY tunnel ended.
  void stream_ended(const AccessRecord& record) noexcept;

 private:
  void count(const Decision& decision) noexcept;  ///< the decision, and its fallback reason if any
  void count_bytes(const AccessRecord& record) noexcept;

  std::unordered_map<const Action*, RuleCounters*> rules_;
  std::unordered_map<const Action*, std::vector<BackendCounters*>> backends_;  ///< rules with a to_addr list
};

/// How the `action` label says an action: FORWARD, REJECT, UNWRAP, DEMUX.
const char* action_label(ActionKind kind) noexcept;

}  // namespace passthru::core
