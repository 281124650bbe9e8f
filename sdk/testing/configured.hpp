// configured<P>(keys): a plugin's Protocol with its rules applied, for doctest unit tests. Key i
// stands at line i + 1, column 1. With `out` the diagnostics are handed back; without, the test
// fails unless every key was accepted.
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "configure.hpp"

namespace passthru::testing {

template <typename ProtocolType>
ProtocolType configured(const std::vector<std::string>& keys, passthru::sdk::Diagnostics* out = nullptr) {
  passthru::sdk::Diagnostics diagnostics;
  ProtocolType protocol = configure<ProtocolType>(keys, diagnostics);
  if (out) *out = diagnostics;
  else REQUIRE(diagnostics.empty());
  return protocol;
}

}  // namespace passthru::testing
