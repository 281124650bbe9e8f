#include "access_log.hpp"

#include <spdlog/spdlog.h>
#include <uv.h>

#include "../router/log_value.hpp"

namespace passthru::core {

std::string format_access_line(const AccessRecord& r) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - r.started);
  std::string line = "client=" + format_address(r.client.get());
  if (r.via.any.sa_family != AF_UNSPEC) line += " via=" + format_address(r.via.get());
  if (r.listener) line += " listener=" + *r.listener;
  if (r.destination.any.sa_family != AF_UNSPEC) line += " dst=" + format_address(r.destination.get());
  if (!r.stream.empty()) line += " stream=" + r.stream;
  if (r.unwrapped) line += r.unwrapped->to_log();
  const Decision& d = r.decision;
  line += " protocol=";
  line += d.protocol ? d.protocol->name.c_str() : "-";
  if (d.kind == Decision::Kind::ServerCatchall) {
    line += std::string(" rule=CATCHALL fallback=") + to_token(d.fallback);
  } else if (d.action) {
    line += " rule=\"" + d.action->rule + "\"";
  }
  line += d.facts.to_log();
  if (!d.action) {
    if (d.kind != Decision::Kind::Pending) line += " action=REJECT";
  } else if (d.action->kind == ActionKind::Forward) {
    line += " action=FORWARD target=";
    line += d.action->to_original ? format_address(r.target.get()) : d.action->to.to_string();
  } else if (d.action->kind == ActionKind::Demux) {
    line += " action=DEMUX streams=" + std::to_string(r.streams);
  } else {
    line += " action=REJECT";
  }
  line += " bytes_up=" + std::to_string(r.bytes_up) + " bytes_down=" + std::to_string(r.bytes_down) +
          " duration_ms=" + std::to_string(ms.count()) + " end=" + token(r.end);
  if (r.error) line += std::string(" error=") + uv_err_name(r.error);
  if (!r.protocol_error.empty()) {
    line += " protocol_error=";
    append_log_value(line, r.protocol_error);  // it may quote the client's bytes
  }
  return line;
}

void log_access(const AccessRecord& record) {
  if (spdlog::should_log(spdlog::level::info)) spdlog::info("{}", format_access_line(record));
}

}  // namespace passthru::core
