// ProxyRules: which rule of a PROXY table a connection's TCP peer selects, that is, whom a
// header is believed from. `FROM 10.0.0.0/8`, `FROM 192.0.2.7`, `FROM ::1/128`: the longest
// matching prefix wins, whatever the order of the file; then CATCHALL. An IPv4 peer on an IPv6
// socket (::ffff:a.b.c.d) matches IPv4 prefixes.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "passthru/sdk/protocol.hpp"

namespace passthru::proxy {

class ProxyRules {
 public:
  void apply(std::span<const passthru::sdk::RuleKey> keys, passthru::sdk::Diagnostics& diagnostics);
  [[nodiscard]] std::uint32_t select(const sockaddr* peer) const noexcept;

 private:
  struct Prefix {
    int family;                          // AF_INET or AF_INET6
    std::array<std::uint8_t, 16> bytes;  // network order
    unsigned length;                     // prefix bits
    std::uint32_t rule;
  };
  std::vector<Prefix> prefixes_;  ///< longest first
  std::optional<std::uint32_t> catchall_;
};

}  // namespace passthru::proxy
