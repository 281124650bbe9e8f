// Server: turns a loaded Config into running workers. It binds every listener (port 0 becomes
// a real port, printed so scripts and tests can find it), starts one worker thread per event
// loop, reloads the config on SIGHUP (or when the file changes, with watch_config), and drains
// them all on SIGINT or SIGTERM.
#pragma once

#include <memory>
#include <string>

#include "../config/config.hpp"

namespace passthru::core {

/// Runs until a stop signal. Returns the process exit code (0, or 1 if a listener failed).
/// `log_level_override`: the command line's, which a reload keeps; empty: the config's.
int run_server(std::shared_ptr<const Config> config, const std::string& log_level_override);

}  // namespace passthru::core
