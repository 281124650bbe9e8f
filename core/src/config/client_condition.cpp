#include "client_condition.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "address_bytes.hpp"

namespace passthru::core {

bool Prefix::contains(const sockaddr* address) const noexcept {
  const std::uint8_t* bytes = nullptr;
  if (address_bytes(address, bytes) != family) return false;
  std::uint8_t whole = length / 8;
  if (std::memcmp(bytes, this->bytes, whole) != 0) return false;
  std::uint8_t rest = length % 8;
  if (rest == 0) return true;
  std::uint8_t mask = static_cast<std::uint8_t>(0xFF << (8 - rest));
  return (bytes[whole] & mask) == (this->bytes[whole] & mask);
}

std::optional<Prefix> parse_prefix(std::string_view text, std::string& why) {
  std::string address(text.substr(0, text.find('/')));
  Prefix prefix;
  if (inet_pton(AF_INET, address.c_str(), prefix.bytes) == 1) {
    prefix.family = AF_INET;
  } else if (inet_pton(AF_INET6, address.c_str(), prefix.bytes) == 1) {
    prefix.family = AF_INET6;
  } else {
    why = "'" + std::string(text) + "' is not an IP address or prefix such as \"10.0.0.0/8\" or \"2001:db8::/32\"";
    return std::nullopt;
  }
  unsigned bits = prefix.family == AF_INET ? 32 : 128;
  unsigned length = bits;
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    std::string_view digits = text.substr(slash + 1);
    length = 0;
    bool ok = !digits.empty() && digits.size() <= 3;
    for (char c : digits) {
      ok = ok && c >= '0' && c <= '9';
      length = length * 10 + static_cast<unsigned>(c - '0');
    }
    if (!ok || length > bits) {
      why = "'" + std::string(text) + "': the prefix length must be 0 to " + std::to_string(bits);
      return std::nullopt;
    }
  }
  prefix.length = static_cast<std::uint8_t>(length);
  for (unsigned bit = length; bit < bits; ++bit)
    if (prefix.bytes[bit / 8] >> (7 - bit % 8) & 1) {
      why = "'" + std::string(text) + "' has bits set past its prefix length";
      return std::nullopt;
    }
  return prefix;
}

bool ClientCondition::admits(const sockaddr* client) const noexcept {
  for (const Prefix& p : not_from)
    if (p.contains(client)) return false;
  if (from.empty()) return true;
  for (const Prefix& p : from)
    if (p.contains(client)) return true;
  return false;
}

}  // namespace passthru::core
