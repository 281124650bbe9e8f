// Writes the PROXY protocol header passthru sends to a backend before the first byte of the
// stream (send_proxy on a FORWARD rule), as HAProxy's doc/proxy-protocol.txt says. Only what
// HAProxy accepts is sent: TCP4 or TCP6 with the client's and the original destination's
// addresses, or, when those two are not of one family, v1 UNKNOWN / v2 LOCAL without addresses.
// It does not read headers; the PROXY detector plugin does, with the same constants
// (proxy_header_format.hpp).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace passthru::wire {

enum class ProxyVersion : std::uint8_t { None, V1, V2 };

struct ProxySend {
  ProxyVersion version = ProxyVersion::None;
  bool crc32c = false;     ///< v2: add a CRC32C TLV over the whole header
  bool unique_id = false;  ///< v2: add a UNIQUE_ID TLV
};

/// What a v2 header carries besides the addresses (each left out when empty).
struct ProxyTlvs {
  std::string_view authority;  ///< the SNI or Host the detector found
  std::string_view alpn;       ///< the client's most preferred ALPN protocol
  std::string_view unique_id;  ///< up to 128 bytes
};

/// The header for a connection from `source` to `destination` (both AF_INET or AF_INET6).
std::string write_proxy_header(const ProxySend& send, const sockaddr* source, const sockaddr* destination,
                               const ProxyTlvs& tlvs);

}  // namespace passthru::wire
