// Endpoint: a "host:port" from the config: an IPv4 literal, an [IPv6] literal, or a host name
// (for to_addr only), with the port. Parsing only: the Connector resolves names, on libuv's
// thread pool, when a connection needs one.
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
/// Appends format_address's text to `out`, without a string of its own (IPv4 without printf).
void append_address(std::string& out, const sockaddr* address);

/// The length bind() and connect() expect for an IPv4 or IPv6 socket address.
inline socklen_t address_length(const sockaddr* address) noexcept {
  return address->sa_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
}

/// An IPv4 or IPv6 socket address in 28 bytes, where a sockaddr_storage takes 128: what a
/// long-lived connection keeps of its client and destination.
union IpAddress {
  sockaddr any;
  sockaddr_in v4;
  sockaddr_in6 v6;

  IpAddress() noexcept : v6{} {}
  /// The IPv4 or IPv6 address in `storage` (anything else gives an empty address).
  static IpAddress from(const sockaddr_storage& storage) noexcept;
  const sockaddr* get() const noexcept { return &any; }
  sockaddr* get() noexcept { return &any; }
};

/// Turns an IPv4-mapped IPv6 address (::ffff:a.b.c.d, as an IPv6 socket sees IPv4 peers) into
/// the plain IPv4 address it is, so that rules, logs and PROXY headers see one form.
void unmap_ipv4(sockaddr_storage& address) noexcept;
void unmap_ipv4(IpAddress& address) noexcept;

}  // namespace passthru::core
