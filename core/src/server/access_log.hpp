// AccessRecord: what one connection (or one stream of an M-PROXY tunnel) did, filled in by its
// stages along the way and written as one line at `info` when it ends. One formatter for plain
// connections and tunnel streams alike:
//   client=ADDR [via=ADDR] listener=ADDR [dst=ADDR] [stream=ID] [unwrapped facts] protocol=NAME rule=...
//   [facts] action=... [target=...|streams=N] bytes_up=N bytes_down=N duration_ms=N end=TOKEN
//   [error=NAME] [protocol_error="..."]
#pragma once

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
  std::string stream;                     ///< a tunnel stream's id, else empty
  const FactList* unwrapped = nullptr;    ///< what a stripped PROXY header said, if any
  Decision decision;                      ///< Pending when no decision was reached
  std::uint64_t streams = 0;              ///< DEMUX: streams opened
  std::uint64_t bytes_up = 0;
  std::uint64_t bytes_down = 0;
  CloseReason end = CloseReason::Done;
  int error = 0;  ///< the last error, as a negated errno or libuv code; 0 if none
  std::string protocol_error;
};

/// The line, without a trailing newline.
std::string format_access_line(const AccessRecord& record);

/// Writes the line at `info`, if that level is on.
void log_access(const AccessRecord& record);

}  // namespace passthru::core
