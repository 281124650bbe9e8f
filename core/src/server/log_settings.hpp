// Log settings: where every log line goes (log_file, or stderr) and in which format (text, or a
// JSON object per line), for the access log and every other line alike. The log file takes the
// place of the process's stderr (dup2), so every writer (the workers' access logs, spdlog, a
// sanitizer's report) follows it when it is opened again: logrotate moves the file away and sends
// SIGUSR1.
#pragma once

#include <string>

#include "../config/config.hpp"

namespace passthru::core {

/// Makes the process log as `config` says: format, level (unless `level_override` names one), and
/// file. Returns "" or, when log_file cannot be opened, why (file:line:col), changing nothing.
std::string apply_log_settings(const Config& config, const std::string& level_override);

/// Opens the config's log_file again at its path (after logrotate moved it). "" or why not.
std::string reopen_log_file(const Config& config);

}  // namespace passthru::core
