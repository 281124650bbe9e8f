#include "counters.hpp"

namespace passthru::core {

void Histogram::observe(double seconds) noexcept {
  for (std::size_t i = 0; i < kBounds.size(); ++i) {
    if (seconds <= kBounds[i]) {
      buckets_[i].add();
      break;
    }
  }
  count_.add();
  sum_ns_.add(seconds > 0 ? static_cast<std::uint64_t>(seconds * 1e9) : 0);
}

ListenerCounters& WorkerMetrics::listener(const std::string& name) {
  std::lock_guard guard(lock_);
  auto& slot = listeners_[name];
  if (!slot) slot = std::make_unique<ListenerCounters>();
  return *slot;
}

RuleCounters& WorkerMetrics::rule(const RuleLabels& labels) {
  std::lock_guard guard(lock_);
  auto& slot = rules_[labels];
  if (!slot) slot = std::make_unique<RuleCounters>();
  return *slot;
}

BackendCounters& WorkerMetrics::backend(const BackendLabels& labels) {
  std::lock_guard guard(lock_);
  auto& slot = backends_[labels];
  if (!slot) slot = std::make_unique<BackendCounters>();
  return *slot;
}

void WorkerMetrics::visit_backends(const std::function<void(const BackendLabels&, const BackendCounters&)>& each) const {
  std::lock_guard guard(lock_);
  for (const auto& [labels, counters] : backends_) each(labels, *counters);
}

void WorkerMetrics::visit(const std::function<void(const std::string&, const ListenerCounters&)>& listeners,
                          const std::function<void(const RuleLabels&, const RuleCounters&)>& rules) const {
  std::lock_guard guard(lock_);
  for (const auto& [name, counters] : listeners_) listeners(name, *counters);
  for (const auto& [labels, counters] : rules_) rules(labels, *counters);
}

}  // namespace passthru::core
