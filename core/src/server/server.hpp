// Server: turns a loaded Config into running workers. It binds every listener (port 0 becomes
// a real port, printed so scripts and tests can find it), starts one worker thread per event
// loop, and stops them all on SIGINT or SIGTERM.
#pragma once

#include "../config/config.hpp"

namespace passthru::core {

/// Runs until a stop signal. Returns the process exit code (0, or 1 if a listener failed).
int run_server(const Config& config);

}  // namespace passthru::core
