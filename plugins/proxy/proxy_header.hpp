// Parses a PROXY protocol header, version 1 (text) or 2 (binary), strictly as HAProxy's
// doc/proxy-protocol.txt says (§2.1, §2.2): the addresses it carries, its TLVs (ALPN,
// AUTHORITY, CRC32C checked when present, NOOP, UNIQUE_ID, SSL, NETNS), and its exact length,
// so that the bytes after it can be detected in turn. It never reads past the header's length.
// It does not decide whom to believe: rules.hpp matches the sender. The protocol's constants
// are the wire library's (passthru/wire/proxy_header_format.hpp), shared with the writer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "passthru/sdk/bytes.hpp"
#include "passthru/sdk/verdict.hpp"

namespace passthru::proxy {

enum class HeaderStatus : std::uint8_t {
  NeedMore,   ///< a header so far; `need_bytes` worth waiting for
  Complete,   ///< a whole, valid header of `length` bytes
  NotProxy,   ///< the bytes cannot start either signature
  Malformed,  ///< a signature, then anything the spec does not allow
  TooLarge,   ///< a v2 header longer than the buffer
  Truncated,  ///< EOF before the header ended
};

struct ProxyHeader {
  int version = 0;          ///< 1 or 2
  bool local = false;       ///< v2 LOCAL (a health check from the proxy itself)
  std::size_t length = 0;   ///< bytes the header takes, to strip
  /// present for TCP over IPv4 or IPv6 (v1 TCP4/TCP6, v2 PROXY 0x11/0x21); absent for LOCAL,
  /// v1 UNKNOWN, and families this receiver treats as UNSPEC (UDP, UNIX), which keep the real
  /// connection's addresses as §2.2 says.
  passthru::sdk::AdoptedAddresses addresses;
  // TLVs (v2), viewing the input.
  std::string_view alpn;
  std::string_view authority;
  passthru::sdk::ByteSpan unique_id;
  std::string_view netns;
  bool crc_checked = false;
  bool ssl = false;
};

struct HeaderParse {
  HeaderStatus status = HeaderStatus::NeedMore;
  std::size_t need_bytes = 0;
  ProxyHeader header;
};

HeaderParse parse_proxy_header(passthru::sdk::ByteSpan bytes, bool eof, std::size_t capacity) noexcept;

}  // namespace passthru::proxy
