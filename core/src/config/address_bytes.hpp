// address_bytes: the address part of an IPv4 or IPv6 socket address as bytes, for prefix
// checks and source hashing (client_condition.cpp, backend_pool.cpp).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>

namespace passthru::core {

/// The address bytes of an IPv4 or IPv6 socket address, an IPv4-mapped IPv6 one as IPv4.
/// Returns the family (AF_UNSPEC when there is none) and sets `bytes` to 4 or 16 bytes.
inline sa_family_t address_bytes(const sockaddr* address, const std::uint8_t*& bytes) noexcept {
  if (!address) return AF_UNSPEC;
  if (address->sa_family == AF_INET) {
    bytes = reinterpret_cast<const std::uint8_t*>(&reinterpret_cast<const sockaddr_in*>(address)->sin_addr);
    return AF_INET;
  }
  if (address->sa_family != AF_INET6) return AF_UNSPEC;
  const auto& v6 = reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr;
  bytes = v6.s6_addr;
  if (IN6_IS_ADDR_V4MAPPED(&v6)) {
    bytes += 12;
    return AF_INET;
  }
  return AF_INET6;
}

}  // namespace passthru::core
