#include "name_target.hpp"

#include <arpa/inet.h>

namespace passthru::core {

bool NameAllow::allows_name(std::string_view name) const noexcept {
  if (names.empty()) return true;
  for (const std::string& allowed : names) {
    if (allowed.front() != '.') {
      if (name == allowed) return true;
      continue;
    }
    // ".example.net": example.net itself and any name ending in .example.net.
    if (name == std::string_view(allowed).substr(1)) return true;
    if (name.size() > allowed.size() && name.substr(name.size() - allowed.size()) == allowed) return true;
  }
  return false;
}

bool NameAllow::allows_address(const sockaddr* address) const noexcept {
  if (addresses.empty()) return true;
  for (const Prefix& prefix : addresses)
    if (prefix.contains(address)) return true;
  return false;
}

std::optional<std::string> target_host(std::string_view fact, const NameAllow* allow) {
  if (!fact.empty() && fact.back() == '.') fact.remove_suffix(1);
  if (fact.empty() || fact.size() > 253) return std::nullopt;
  std::string host;
  host.reserve(fact.size());
  char previous = '.';
  for (char c : fact) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
              (c >= 'A' && c <= 'Z');
    if (!ok || (c == '.' && previous == '.')) return std::nullopt;  // a stray byte, or an empty label
    host += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    previous = c;
  }
  // An IPv4 literal (clients do send one as SNI) is checked by the address prefixes alone.
  in_addr literal{};
  bool is_address = inet_pton(AF_INET, host.c_str(), &literal) == 1;
  if (allow && !is_address && !allow->allows_name(host)) return std::nullopt;
  return host;
}

}  // namespace passthru::core
