// Parses the head of an HTTP/1.0 or 1.1 request (RFC 9112 §2-§5) into facts: the method, the
// request target's form and path, and the host it is for; and recognises the HTTP/2
// prior-knowledge preface (RFC 9113 §3.4). It does not match rules (rules.hpp does).
//
// Where the bytes are ambiguous it never guesses a host: obsolete line folding, a bare CR,
// whitespace before a colon, a field line without a colon, an unparsable Host value, or two
// Host fields with different values all leave the request with no usable host. A bare LF is
// accepted as a line end (RFC 9112 §2.2 allows it). An absolute-form target's authority, or a
// CONNECT request's, is the host, before any Host field (RFC 9112 §3.2.2).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "passthru/sdk/bytes.hpp"

namespace passthru::http {

enum class HeadStatus : std::uint8_t {
  NeedMore,   ///< valid so far; `need_bytes` worth waiting for
  Complete,   ///< a whole request line (and header block, when asked for)
  NotHttp,    ///< the first bytes cannot start an HTTP/1.x request
  Malformed,  ///< a request line that breaks the grammar after a method and a space
  TooLarge,   ///< the head cannot fit in `capacity` bytes
  Truncated,  ///< EOF before the head was complete
};

enum class HostState : std::uint8_t {
  None,       ///< no authority in the target and no Host field (HTTP/1.0, or not looked for)
  Usable,     ///< `host()` is the normalised host
  Ambiguous,  ///< the head was ambiguous about its host: never route by it
};

struct RequestHead {
  std::string_view method;  ///< views the input
  std::string_view path;    ///< the path of an origin- or absolute-form target, query cut off
  bool h2c = false;         ///< the HTTP/2 prior-knowledge preface
  HostState host_state = HostState::None;
  std::array<char, 255> host_storage{};
  std::size_t host_length = 0;

  /// Lower case, port and one trailing dot removed; an IPv6 literal keeps its brackets.
  [[nodiscard]] std::string_view host() const noexcept { return {host_storage.data(), host_length}; }
};

struct HeadParse {
  HeadStatus status = HeadStatus::NeedMore;
  std::size_t need_bytes = 0;
  RequestHead head;
};

/// Parses what a client sent so far. `with_headers`: read the header block too (to learn the
/// Host field); without it the head is complete at the end of the request line.
HeadParse parse_request_head(passthru::sdk::ByteSpan bytes, bool eof, std::size_t capacity,
                             bool with_headers) noexcept;

/// Normalises an authority ("Example.COM.:8080", "[::1]:443") into `head`'s host; false if it
/// is not a valid host with an optional port.
bool set_host(std::string_view authority, RequestHead& head) noexcept;

}  // namespace passthru::http
