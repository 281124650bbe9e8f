// Endpoint: a "host:port" from the config: an IPv4 literal, an [IPv6] literal, or a host name
// (for to_addr only), with the port. Parsing only; resolving names is the relay's job, done
// without blocking the loop.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace passthru::core {

struct Endpoint {
  std::string host;      ///< as written, without brackets
  std::uint16_t port = 0;
  bool is_literal = false;  ///< host is an IP address; `address` holds it with the port
  sockaddr_storage address{};

  /// "1.2.3.4:80", "[::1]:80" or "name:80", for logs.
  [[nodiscard]] std::string to_string() const;
};

enum class PortRule { AllowZero, NonZero };

/// Parses `text`, or returns why not in `error`. A host name is allowed only when
/// `allow_names`; listeners need a literal address.
std::optional<Endpoint> parse_endpoint(std::string_view text, bool allow_names, PortRule port_rule,
                                       std::string& error);

/// "1.2.3.4:80" or "[::1]:80" for any socket address; "?" if it has no IP family.
std::string format_address(const sockaddr* address);

/// Turns an IPv4-mapped IPv6 address (::ffff:a.b.c.d, as an IPv6 socket sees IPv4 peers) into
/// the plain IPv4 address it is, so that rules, logs and PROXY headers see one form.
void unmap_ipv4(sockaddr_storage& address) noexcept;

}  // namespace passthru::core
