// AccessRecord: what one connection (or one stream of an M-PROXY tunnel) did, filled in by its
// stages along the way and written as one line at `info` when it ends. One formatter for plain
// connections and tunnel streams alike, in either format:
//   text: TIME info client=ADDR [via=ADDR] listener=ADDR [dst=ADDR] [stream=ID] [unwrapped facts]
//         protocol=NAME rule=... [facts] action=... [target=...|streams=N] bytes_up=N
//         bytes_down=N duration_ms=N end=TOKEN [error=NAME] [protocol_error="..."]
//   json: {"time":"TIME","level":"info","client":"ADDR",... the same fields ...}
// AccessLog: each worker's writer of those lines. It keeps them off any lock shared between
// workers: lines gather in the worker's own buffer and go out in one write(2) once they fill a
// pipe's atomic write (PIPE_BUF), or once the first of them has been held for kHoldMs, in
// pieces of whole lines no longer than PIPE_BUF, so that lines from several workers never mix,
// on a pipe, a terminal or a file opened for appending. Under load that is one write for about
// fifteen connections instead of one per connection; an idle loop wakes to write them.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "../config/endpoint.hpp"
#include "../router/detection.hpp"
#include "close_reason.hpp"

namespace passthru::core {

struct AccessRecord {
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  IpAddress client;  ///< the peer, or the address a trusted header (or tunnel) gave
  IpAddress via;     ///< who sent the bytes, when not the client: a trusted proxy, a tunnel
  const std::string* listener = nullptr;
  IpAddress destination;  ///< a transparent listener's connection: its original destination
  IpAddress target;       ///< FORWARD to ORIGINAL: the address it went to
  const Endpoint* backend = nullptr;  ///< FORWARD to a to_addr list: the backend used (or tried last)
  std::string stream;                     ///< a tunnel stream's id, else empty
  const FactList* unwrapped = nullptr;    ///< what a stripped PROXY header said, if any
  Decision decision;                      ///< Pending when no decision was reached
  std::uint64_t streams = 0;              ///< DEMUX: streams opened
  std::uint64_t bytes_up = 0;
  std::uint64_t bytes_down = 0;
  CloseReason end = CloseReason::Done;
  int error = 0;  ///< the last error, as a negated errno or libuv code; 0 if none
  std::string protocol_error;
  const Endpoint* bypassed = nullptr;  ///< MUX: connected directly instead (its tunnel's bypass)
};

enum class LogFormat : std::uint8_t { Text, Json };

/// The format of every line from now on, the access log's and the others' (log_format).
void set_log_format(LogFormat format) noexcept;
LogFormat log_format() noexcept;

/// Appends the record's line (without its time and level) in `format`: for text, the fields
/// after "info "; for JSON, the members after "level", each with its leading comma.
void append_access_fields(std::string& out, const AccessRecord& record, LogFormat format);

class AccessLog {
 public:
  AccessLog() = default;
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  /// The longest a line is held before it is written: what a reader of the log may wait for it.
  static constexpr int kHoldMs = 100;

  /// Adds the record's line, if `info` is logged; it goes out with the next write_out_due()
  /// that finds it due, or at once when the lines held fill PIPE_BUF.
  void write(const AccessRecord& record);
  /// The worker calls it after each turn of its loop, with the loop's time: writes out the
  /// lines held if the first of them came kHoldMs ago or more. Returns the milliseconds until
  /// the lines still held are due (the loop waits no longer), or -1 when none are held.
  int write_out_due(std::uint64_t now_ms) noexcept;
  /// Writes out what is gathered, and stops (the loop is closing); later lines go out at once.
  void close();

 private:
  /// Writes out what is gathered now.
  void flush() noexcept;
  /// Writes the first `end` bytes held (whole lines) and lets them go.
  void write_front(std::size_t end) noexcept;
  /// "2026-11-29T21:20:43.371", local time as the other log lines say it.
  void append_time(std::string& out);

  std::string lines_;
  static constexpr std::uint64_t kNotHeld = ~std::uint64_t{0};
  std::uint64_t held_since_ms_ = kNotHeld;  ///< the loop's time when the first line held was seen
  bool open_ = true;
  std::int64_t second_ = -1;  ///< the second `second_text_` says
  char second_text_[24] = {};
};

}  // namespace passthru::core
