// CommandLineOverrides: what the command line sets over the config file. Applied to every
// config loaded, at start and at each reload, so that a reload keeps what the command said.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "config.hpp"

namespace passthru::core {

struct CommandLineOverrides {
  std::string log_level;                    ///< -l: empty = the config's log_level (log_settings.hpp applies it)
  std::optional<unsigned> workers;          ///< -w: the config's workers
  std::optional<std::uint32_t> timeout_ms;  ///< -t: every listener's timeout_ms
};

inline void apply_overrides(const CommandLineOverrides& overrides, Config& config) {
  if (overrides.workers) config.workers = *overrides.workers;
  if (overrides.timeout_ms)
    for (ServerConfig& server : config.servers) server.timeout_ms = *overrides.timeout_ms;
}

}  // namespace passthru::core
