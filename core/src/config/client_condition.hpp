// ClientCondition: a rule's conditions on the client's address (from / not_from), as lists of
// address prefixes. Pure data and its checks: the config loader fills it, Detection asks it.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace passthru::core {

/// An address prefix of a from / not_from list: "10.0.0.0/8", "2001:db8::/32", or one address.
struct Prefix {
  sa_family_t family = AF_UNSPEC;
  std::uint8_t bytes[16] = {};
  std::uint8_t length = 0;  ///< in bits

  /// Whether `address` (IPv4, IPv6 or IPv4-mapped IPv6) is inside this prefix.
  [[nodiscard]] bool contains(const sockaddr* address) const noexcept;
};

/// "a.b.c.d[/n]" or "v6[/n]"; nullopt with `why` when it is not one (or has host bits set).
std::optional<Prefix> parse_prefix(std::string_view text, std::string& why);

/// A rule's conditions on the client: it applies only to a client inside one of `from` (when
/// any is given) and inside none of `not_from`.
struct ClientCondition {
  std::vector<Prefix> from;
  std::vector<Prefix> not_from;

  [[nodiscard]] bool empty() const noexcept { return from.empty() && not_from.empty(); }
  /// Whether the rule applies to `client` (an unknown client satisfies only an empty condition).
  [[nodiscard]] bool admits(const sockaddr* client) const noexcept;
};

}  // namespace passthru::core
