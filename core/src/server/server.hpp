// Server: turns a loaded Config into running workers. It binds every listener (port 0 becomes
// a real port, printed so scripts and tests can find it), starts one worker thread per event
// loop, reloads the config on SIGHUP (or when the file changes, with watch_config), and drains
// them all on SIGINT or SIGTERM.
#pragma once

#include <memory>
#include <string>

#include "../config/config.hpp"
#include "../config/overrides.hpp"

namespace passthru::core {

/// Runs until a stop signal. Returns the process exit code (0, or 1 if a listener failed).
/// `overrides`: the command line's, already applied to `config`; a reload applies them again.
int run_server(std::shared_ptr<const Config> config, const CommandLineOverrides& overrides);

}  // namespace passthru::core
