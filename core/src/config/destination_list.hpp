// DestinationList: a list of destinations as tessel's PROXY_LOCAL writes them, for a tunnel's
// `bypass` (connect directly instead) and a to_addr = "STREAM" rule's `allow` (the only
// destinations a stream may name). Entries: an IP address, a CIDR prefix (10.0.0.0/8,
// 2001:db8::/32), an exact name (example.com), ".suffix" (the name and every name under it) or
// "*.suffix" (only the names under it). Names compare without case. Matching only; no lookups:
// a name is never resolved to check it against an address entry.
#pragma once

#include <netinet/in.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace passthru::core {

class DestinationList {
 public:
  /// Parses the entries; nullopt with `error` naming the first bad one.
  static std::optional<DestinationList> parse(const std::vector<std::string>& entries, std::string& error);

  /// Whether `host` (a name, or an IPv4/IPv6 literal) is listed.
  [[nodiscard]] bool matches(std::string_view host) const;
  [[nodiscard]] bool empty() const noexcept { return names_.empty() && prefixes_.empty(); }

 private:
  struct Name {
    std::string text;  ///< lower case, without the leading "." or "*."
    bool exact = false;     ///< the name itself
    bool children = false;  ///< names under it
  };
  struct Prefix {
    int family = AF_INET;
    unsigned char bytes[16] = {};
    unsigned bits = 0;
  };
  std::vector<Name> names_;
  std::vector<Prefix> prefixes_;
};

}  // namespace passthru::core
