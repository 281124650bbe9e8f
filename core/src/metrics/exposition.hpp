// Exposition: passthru's counts in the Prometheus text format (version 0.0.4), summed over the
// workers. Label values come from the config (listener addresses, protocol table names, rule
// keys), never from a client, so every label set is bounded by the config.
#pragma once

#include <string>
#include <vector>

#include "counters.hpp"
#include "process_metrics.hpp"

namespace passthru::core {

std::string render_metrics(const std::vector<const WorkerMetrics*>& workers, const ProcessMetrics& process);

}  // namespace passthru::core
