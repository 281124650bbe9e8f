// ListeningSockets: the listening sockets of every listener in force, one per worker each (the
// kernel spreads connections between workers through SO_REUSEPORT). The thread that loads
// configs keeps this table; a reload opens the sockets of new listeners and keeps those of
// listeners that stay, so that no client is refused while rules change.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../config/config.hpp"
#include "connection_limits.hpp"
#include "worker.hpp"

namespace passthru::core {

struct OpenListener {
  std::string address;  ///< as configured ("127.0.0.1:0", "… transparent"): a reload keeps a listener by it
  std::string name;     ///< as bound: the real port when the config says 0
  std::vector<int> fds;  ///< one per worker, each worker's to close; the first's only (first_worker_only)
  bool fresh = false;    ///< opened for the config being started, not kept from the one before
  std::shared_ptr<ConnectionLimits::PerListener> counts;
};

/// The listeners of `config` for `workers` workers, in its order: a listener of `running` with
/// the same address keeps its sockets and counts, the others are opened. nullopt with `error`
/// (file:line:col) when a socket cannot be opened; those opened here are closed again.
std::optional<std::vector<OpenListener>> open_listeners(const Config& config, unsigned workers,
                                                        const std::vector<OpenListener>& running, std::string& error);

/// What worker `worker` is handed: its socket of each listener it serves, with the listener's config.
std::vector<ListenerPlan> plan_for(unsigned worker, const Config& config, const std::vector<OpenListener>& listeners);

}  // namespace passthru::core
