// configured<P>(keys): a plugin's Protocol with its rules applied, for doctest unit tests. Key i
// stands at line i + 1, column 1. With `out` the diagnostics are handed back; without, the test
// fails unless every key was accepted.
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "passthru/sdk/protocol.hpp"

namespace passthru::testing {

template <typename ProtocolType>
ProtocolType configured(const std::vector<std::string>& keys, passthru::sdk::Diagnostics* out = nullptr) {
  ProtocolType protocol;
  std::vector<passthru::sdk::RuleKey> rules;
  for (std::size_t i = 0; i < keys.size(); ++i) rules.push_back({keys[i], {static_cast<std::uint32_t>(i + 1), 1}});
  passthru::sdk::Diagnostics diagnostics;
  protocol.apply_rules(rules, diagnostics);
  if (out) *out = diagnostics;
  else REQUIRE(diagnostics.empty());
  return protocol;
}

}  // namespace passthru::testing
