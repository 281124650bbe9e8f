#include "log_settings.hpp"

#include <fcntl.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "../router/log_value.hpp"
#include "access_log.hpp"

namespace passthru::core {

namespace {

constexpr char kTextPattern[] = "%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v";
constexpr char kJsonPattern[] = R"({"time":"%Y-%m-%dT%H:%M:%S.%e","level":"%l","message":%*})";

/// %* in a pattern: the message as a JSON string.
class JsonMessage : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    std::string quoted;
    append_json_string(quoted, std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(quoted.data(), quoted.data() + quoted.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonMessage>(); }
};

/// The stderr passthru was started with, kept so that a reload that drops log_file goes back to it.
int started_stderr = -1;

std::string open_onto_stderr(const Config& config) {
  if (started_stderr < 0) started_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
  if (config.log_file.empty()) {
    if (started_stderr >= 0) dup2(started_stderr, STDERR_FILENO);
    return {};
  }
  int fd = ::open(config.log_file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0)
    return format_error(config.path, config.log_file_where,
                        "cannot open log_file " + config.log_file.string() + ": " + std::strerror(errno));
  dup2(fd, STDERR_FILENO);  // at once for every thread: no line is half in the old file
  ::close(fd);
  return {};
}

}  // namespace

std::string apply_log_settings(const Config& config, const std::string& level_override) {
  if (std::string error = open_onto_stderr(config); !error.empty()) return error;
  set_log_format(config.log_json ? LogFormat::Json : LogFormat::Text);
  if (config.log_json) {
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<JsonMessage>('*').set_pattern(kJsonPattern);
    spdlog::set_formatter(std::move(formatter));
  } else {
    spdlog::set_pattern(kTextPattern);
  }
  spdlog::set_level(spdlog::level::from_str(level_override.empty() ? config.log_level : level_override));
  return {};
}

std::string reopen_log_file(const Config& config) { return open_onto_stderr(config); }

}  // namespace passthru::core
