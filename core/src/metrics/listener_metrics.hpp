// ListenerMetrics: one listener's counts as the connections accepted with one version of its
// rules reach them. Made with the rules (at start and on each reload), it resolves every rule's
// counts once, so that counting a decision or an end costs a pointer lookup and a few plain
// stores on the worker's own memory.
#pragma once

#include <string>
#include <unordered_map>

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
  /// A connection ended (record.end), having moved record's bytes.
  void connection_ended(const AccessRecord& record) noexcept;
  /// A stream of an M-PROXY tunnel ended.
  void stream_ended(const AccessRecord& record) noexcept;

 private:
  void count_bytes(const AccessRecord& record) noexcept;

  std::unordered_map<const Action*, RuleCounters*> rules_;
};

/// How the `action` label says an action: FORWARD, REJECT, UNWRAP, DEMUX.
const char* action_label(ActionKind kind) noexcept;

}  // namespace passthru::core
