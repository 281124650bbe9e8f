// configure<P>(keys, diagnostics): a plugin's Protocol with its rules applied, for tests and
// fuzz targets. Key i stands at line i + 1, column 1; refusals go to `diagnostics`.
#pragma once

#include <string>
#include <vector>

#include "passthru/sdk/protocol.hpp"

namespace passthru::testing {

template <typename ProtocolType>
ProtocolType configure(const std::vector<std::string>& keys, passthru::sdk::Diagnostics& diagnostics) {
  ProtocolType protocol;
  std::vector<passthru::sdk::RuleKey> rules;
  for (std::size_t i = 0; i < keys.size(); ++i) rules.push_back({keys[i], {static_cast<std::uint32_t>(i + 1), 1}});
  protocol.apply_rules(rules, diagnostics);
  return protocol;
}

}  // namespace passthru::testing
