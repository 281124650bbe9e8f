#include "listener_metrics.hpp"

namespace passthru::core {

const char* action_label(ActionKind kind) noexcept {
  switch (kind) {
    case ActionKind::Forward: return "FORWARD";
    case ActionKind::Reject: return "REJECT";
    case ActionKind::Unwrap: return "UNWRAP";
    case ActionKind::Demux: return "DEMUX";
    case ActionKind::Mux: return "MUX";
  }
  return "REJECT";
}

ListenerMetrics::ListenerMetrics(WorkerMetrics& metrics, const std::string& listener, const ServerConfig& server)
    : counters(metrics.listener(listener)) {
  for (const ProtocolTable& table : server.protocols)
    for (const Action& action : table.actions) {
      rules_[&action] = &metrics.rule({listener, table.name, action.rule, action_label(action.kind)});
      if (action.pool)
        for (const Endpoint& backend : action.pool->backends())
          backends_[&action].push_back(&metrics.backend({listener, table.name, action.rule, backend.to_string()}));
    }
  if (server.catchall) {
    rules_[&*server.catchall] =
        &metrics.rule({listener, "-", server.catchall->rule, action_label(server.catchall->kind)});
    if (server.catchall->pool)
      for (const Endpoint& backend : server.catchall->pool->backends())
        backends_[&*server.catchall].push_back(&metrics.backend({listener, "-", server.catchall->rule, backend.to_string()}));
  }
}

void ListenerMetrics::backend_connected(const Action* action, std::uint8_t i) noexcept {
  if (auto it = backends_.find(action); it != backends_.end()) it->second[i]->connections.add();
}

void ListenerMetrics::backend_failed(const Action* action, std::uint8_t i) noexcept {
  if (auto it = backends_.find(action); it != backends_.end()) it->second[i]->connect_failures.add();
}

void ListenerMetrics::decided(const Decision& decision, double seconds) noexcept {
  counters.detection.observe(seconds);
  count(decision);
}

void ListenerMetrics::fell_back(const Decision& fallback) noexcept { count(fallback); }

void ListenerMetrics::count(const Decision& decision) noexcept {
  if (decision.kind == Decision::Kind::ServerCatchall)
    counters.fallbacks[static_cast<std::size_t>(decision.fallback)].add();
  if (auto it = rules_.find(decision.action); it != rules_.end()) it->second->decisions.add();
}

void ListenerMetrics::connection_ended(const AccessRecord& record) noexcept {
  counters.closed.add();
  counters.ends[static_cast<std::size_t>(record.end)].add();
  count_bytes(record);
}

void ListenerMetrics::stream_ended(const AccessRecord& record) noexcept {
  counters.stream_ends[static_cast<std::size_t>(record.end)].add();
  count_bytes(record);
}

void ListenerMetrics::count_bytes(const AccessRecord& record) noexcept {
  auto it = rules_.find(record.decision.action);
  if (it == rules_.end()) return;
  it->second->bytes_up.add(record.bytes_up);
  it->second->bytes_down.add(record.bytes_down);
}

}  // namespace passthru::core
