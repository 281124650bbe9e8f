// TlsRules: which rule of a TLS table a parsed ClientHello selects. No parsing of bytes here.
// Precedence does not depend on the order of the file:
//   exact SNI > longest "*." SNI wildcard > ALPN (first offered that has a rule) > CATCHALL.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>

#include "../common/name_table.hpp"
#include "client_hello.hpp"
#include "passthru/sdk/protocol.hpp"

namespace passthru::tls {

class TlsRules {
 public:
  /// Reads every key; refused ones are reported with their position.
  void apply(std::span<const passthru::sdk::RuleKey> keys, passthru::sdk::Diagnostics& diagnostics);

  /// A rule index, or passthru::sdk::kNoRule.
  [[nodiscard]] std::uint32_t select(const ClientHello& hello) const noexcept;

 private:
  passthru::common::NameTable names_;
  std::unordered_map<std::string, std::uint32_t> alpn_;
  std::optional<std::uint32_t> catchall_;
};

}  // namespace passthru::tls
