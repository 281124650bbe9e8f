#include "rules.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <string>

#include "passthru/sdk/rule_key.hpp"

namespace passthru::proxy {

namespace {

constexpr std::string_view kMatchers[] = {"FROM"};
constexpr passthru::sdk::RuleKeySyntax kSyntax{
    .protocol = "PROXY", .matchers = kMatchers, .forms = "'FROM address', 'FROM address/bits'"};

bool prefix_matches(const std::uint8_t* address, const std::array<std::uint8_t, 16>& network, unsigned bits) {
  unsigned whole = bits / 8;
  if (std::memcmp(address, network.data(), whole) != 0) return false;
  unsigned rest = bits % 8;
  if (rest == 0) return true;
  auto mask = static_cast<std::uint8_t>(0xFF << (8 - rest));
  return (address[whole] & mask) == network[whole];
}

}  // namespace

void ProxyRules::apply(std::span<const passthru::sdk::RuleKey> keys, passthru::sdk::Diagnostics& diagnostics) {
  catchall_ = passthru::sdk::read_rule_keys(keys, kSyntax, diagnostics, [&](const passthru::sdk::MatcherKey& key) {
    std::string_view value = key.value;
    auto slash = value.find('/');
    std::string address(value.substr(0, slash));
    Prefix prefix{};
    prefix.rule = key.index;
    if (inet_pton(AF_INET, address.c_str(), prefix.bytes.data()) == 1) {
      prefix.family = AF_INET;
      prefix.length = 32;
    } else if (inet_pton(AF_INET6, address.c_str(), prefix.bytes.data()) == 1) {
      prefix.family = AF_INET6;
      prefix.length = 128;
    } else {
      key.refuse("'" + address + "' is not an IP address; " + kSyntax.sentence());
      return;
    }
    if (slash != std::string_view::npos) {
      std::string_view bits = value.substr(slash + 1);
      unsigned length = 0;
      auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), length);
      if (ec != std::errc() || end != bits.data() + bits.size() || bits.empty() || length > prefix.length) {
        key.refuse("the prefix length must be 0 to " + std::to_string(prefix.length));
        return;
      }
      prefix.length = length;
    }
    std::array<std::uint8_t, 16> masked{};
    for (unsigned i = 0; i < prefix.length; ++i) masked[i / 8] |= prefix.bytes[i / 8] & (0x80 >> (i % 8));
    if (masked != prefix.bytes) {
      char network[INET6_ADDRSTRLEN];
      inet_ntop(prefix.family, masked.data(), network, sizeof network);
      key.refuse(std::string("bits are set past the prefix: write FROM ") + network + "/" +
                 std::to_string(prefix.length));
      return;
    }
    bool duplicate = std::any_of(prefixes_.begin(), prefixes_.end(), [&](const Prefix& p) {
      return p.family == prefix.family && p.length == prefix.length && p.bytes == prefix.bytes;
    });
    if (duplicate) {
      key.refuse("another rule already names " + std::string(value));
      return;
    }
    prefixes_.push_back(prefix);
  });
  std::stable_sort(prefixes_.begin(), prefixes_.end(), [](const Prefix& a, const Prefix& b) { return a.length > b.length; });
}

std::uint32_t ProxyRules::select(const sockaddr* peer) const noexcept {
  if (peer) {
    const std::uint8_t* address = nullptr;
    int family = peer->sa_family;
    if (family == AF_INET) {
      address = reinterpret_cast<const std::uint8_t*>(&reinterpret_cast<const sockaddr_in*>(peer)->sin_addr);
    } else if (family == AF_INET6) {
      const auto* v6 = &reinterpret_cast<const sockaddr_in6*>(peer)->sin6_addr;
      address = reinterpret_cast<const std::uint8_t*>(v6);
      if (IN6_IS_ADDR_V4MAPPED(v6)) {
        family = AF_INET;
        address += 12;
      }
    }
    for (const auto& prefix : prefixes_)
      if (address && prefix.family == family && prefix_matches(address, prefix.bytes, prefix.length)) return prefix.rule;
  }
  return catchall_.value_or(passthru::sdk::kNoRule);
}

}  // namespace passthru::proxy
