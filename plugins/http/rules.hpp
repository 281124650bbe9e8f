// HttpRules: which rule of an HTTP table a parsed request head selects. No parsing of bytes.
// Precedence, whatever the order of the file:
//   H2C for the prior-knowledge preface; otherwise exact HOST > longest "*." HOST wildcard >
//   longest PATH prefix > CATCHALL. A request whose host is ambiguous matches no HOST rule.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <unordered_map>

#include "../common/name_table.hpp"
#include "passthru/sdk/protocol.hpp"
#include "request_head.hpp"

namespace passthru::http {

class HttpRules {
 public:
  void apply(std::span<const passthru::sdk::RuleKey> keys, passthru::sdk::Diagnostics& diagnostics);

  /// A rule index, or passthru::sdk::kNoRule.
  [[nodiscard]] std::uint32_t select(const RequestHead& head) const noexcept;

  /// Whether any rule needs the Host, so the header block must be read before deciding.
  [[nodiscard]] bool needs_host() const noexcept { return !names_.empty() || !ip_literals_.empty(); }

 private:
  passthru::common::NameTable names_;
  std::unordered_map<std::string, std::uint32_t> ip_literals_;  ///< "[::1]"
  std::unordered_map<std::string, std::uint32_t> paths_;
  std::set<std::size_t, std::greater<>> path_lengths_;  ///< longest first
  std::optional<std::uint32_t> h2c_;
  std::optional<std::uint32_t> catchall_;
};

}  // namespace passthru::http
