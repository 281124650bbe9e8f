#include "access_log.hpp"

#include <limits.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <ctime>

#include "../router/log_value.hpp"

namespace passthru::core {

namespace {

std::atomic<LogFormat> current_format{LogFormat::Text};

/// Writes one record's fields as `key=value` (text) or `"key":value` (JSON).
class Fields {
 public:
  Fields(std::string& out, LogFormat format) : out_(out), json_(format == LogFormat::Json) {}

  /// A value passthru made itself (an address, a config name, a token): no escaping needed in text.
  void plain(std::string_view key, std::string_view value) {
    start(key);
    if (json_) append_json_string(out_, value);
    else out_ += value;
  }
  void address(std::string_view key, const sockaddr* value) {
    start(key);
    if (json_) out_ += '"';  // an address needs no escape in either format
    append_address(out_, value);
    if (json_) out_ += '"';
  }
  void number(std::string_view key, std::uint64_t value) {
    start(key);
    out_ += std::to_string(value);
  }
  /// A value from outside (a client's bytes, a plugin's text): escaped so it cannot split the line.
  void outside(std::string_view key, std::string_view value, bool always_quote = false) {
    start(key);
    if (json_) append_json_string(out_, value);
    else append_log_value(out_, value, always_quote);
  }
  void facts(const FactList& facts) {
    facts.for_each([&](const passthru::sdk::Fact& fact) {
      using passthru::sdk::FactKind;
      switch (fact.kind) {
        case FactKind::Wire: return;  // a Text fact says it for people
        case FactKind::Ambiguous:
          start(fact.key);
          out_ += json_ ? "null" : "(ambiguous)";  // never a client's text: that is quoted
          return;
        case FactKind::Text: outside(fact.key, fact.value); return;
      }
    });
  }

 private:
  void start(std::string_view key) {
    if (json_) {
      out_ += ",\"";
      out_ += key;  // keys are passthru's, or a plugin's short names of printable ASCII
      out_ += "\":";
    } else {
      if (!first_) out_ += ' ';
      out_ += key;
      out_ += '=';
    }
    first_ = false;
  }
  std::string& out_;
  bool json_;
  bool first_ = true;
};

}  // namespace

void set_log_format(LogFormat format) noexcept { current_format = format; }
LogFormat log_format() noexcept { return current_format; }

void append_access_fields(std::string& out, const AccessRecord& r, LogFormat format) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - r.started);
  Fields f(out, format);
  f.address("client", r.client.get());
  if (r.via.any.sa_family != AF_UNSPEC) f.address("via", r.via.get());
  if (r.listener) f.plain("listener", *r.listener);
  if (r.destination.any.sa_family != AF_UNSPEC) f.address("dst", r.destination.get());
  if (!r.stream.empty()) f.outside("stream", r.stream);
  if (r.unwrapped) f.facts(*r.unwrapped);
  const Decision& d = r.decision;
  f.plain("protocol", d.protocol ? d.protocol->name : "-");
  if (d.kind == Decision::Kind::ServerCatchall) {
    f.plain("rule", "CATCHALL");
    f.plain("fallback", to_token(d.fallback));
  } else if (d.action) {
    f.outside("rule", d.action->rule, true);
  }
  f.facts(d.facts);
  if (!d.action) {
    if (d.kind != Decision::Kind::Pending) f.plain("action", "REJECT");
  } else if (d.action->kind == ActionKind::Forward) {
    f.plain("action", "FORWARD");
    f.plain("target", d.action->to_stream     ? std::string("STREAM")  // STREAM: name:serviceport
                      : d.action->to_original ? format_address(r.target.get())
                      : r.backend             ? r.backend->to_string()
                                              : d.action->to.to_string());
  } else if (d.action->kind == ActionKind::Mux) {
    f.plain("action", "MUX");
    f.plain("target", r.bypassed ? r.bypassed->to_string() : "tunnel:" + d.action->tunnel);
    if (r.bypassed) f.plain("bypass", "yes");
  } else if (d.action->kind == ActionKind::Demux) {
    f.plain("action", "DEMUX");
    f.number("streams", r.streams);
  } else {
    f.plain("action", "REJECT");
  }
  f.number("bytes_up", r.bytes_up);
  f.number("bytes_down", r.bytes_down);
  f.number("duration_ms", static_cast<std::uint64_t>(ms.count()));
  f.plain("end", token(r.end));
  if (r.error) f.plain("error", uv_err_name(r.error));
  if (!r.protocol_error.empty()) f.outside("protocol_error", r.protocol_error);  // it may quote the client's bytes
}

void AccessLog::write(const AccessRecord& record) {
  if (!spdlog::should_log(spdlog::level::info)) return;
  std::size_t held = lines_.size();
  if (lines_.capacity() < 2 * PIPE_BUF) lines_.reserve(2 * PIPE_BUF);  // once: enough but for a very long line
  LogFormat format = log_format();
  if (format == LogFormat::Json) {
    lines_ += "{\"time\":\"";
    append_time(lines_);
    lines_ += "\",\"level\":\"info\"";
    append_access_fields(lines_, record, format);
    lines_ += "}\n";
  } else {
    append_time(lines_);
    lines_ += " info ";
    append_access_fields(lines_, record, format);
    lines_ += '\n';
  }
  if (!open_) flush();
  else if (lines_.size() > PIPE_BUF && held > 0) write_front(held);  // a full write; this line waits
}

void AccessLog::close() {
  flush();
  open_ = false;
}

int AccessLog::write_out_due(std::uint64_t now_ms) noexcept {
  if (lines_.empty()) return -1;
  if (held_since_ms_ == kNotHeld) held_since_ms_ = now_ms;  // came in the turn that just ended
  std::uint64_t held_for = now_ms - held_since_ms_;
  if (held_for < static_cast<std::uint64_t>(kHoldMs)) return kHoldMs - static_cast<int>(held_for);
  flush();
  return -1;
}

void AccessLog::flush() noexcept { write_front(lines_.size()); }

void AccessLog::write_front(std::size_t end) noexcept {
  // Pieces of whole lines of at most PIPE_BUF bytes: a write that size to a pipe is never split,
  // nor mixed with another worker's.
  std::size_t done = 0;
  while (done < end) {
    std::size_t size = end - done;
    if (size > PIPE_BUF) {
      std::size_t last_line_end = lines_.rfind('\n', done + PIPE_BUF - 1);
      size = last_line_end != std::string::npos && last_line_end >= done ? last_line_end + 1 - done
                                                                         : lines_.find('\n', done) + 1 - done;
    }
    ssize_t written = ::write(STDERR_FILENO, lines_.data() + done, size);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) break;  // a log that cannot be written loses its lines, not the connections
    done += static_cast<std::size_t>(written);
  }
  lines_.erase(0, end);  // written, or lost with the log
  held_since_ms_ = kNotHeld;  // what is left came in this turn
}

void AccessLog::append_time(std::string& out) {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
  std::int64_t second = ms / 1000;
  if (second != second_) {  // one localtime_r a second, not one a line
    second_ = second;
    time_t t = static_cast<time_t>(second);
    tm local{};
    localtime_r(&t, &local);
    std::strftime(second_text_, sizeof second_text_, "%Y-%m-%dT%H:%M:%S", &local);
  }
  auto millis = static_cast<int>(ms % 1000);
  out += second_text_;
  out += '.';
  out += static_cast<char>('0' + millis / 100);
  out += static_cast<char>('0' + millis / 10 % 10);
  out += static_cast<char>('0' + millis % 10);
}

}  // namespace passthru::core
