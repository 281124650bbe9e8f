// split_rule_key: reads a rule key "MATCHER value" the same way in every plugin: exactly one
// space between a matcher and a value that are both non-empty and hold no other space.
// (CATCHALL, and matchers without a value such as H2C, are the plugin's to compare whole.)
#pragma once

#include <optional>
#include <string_view>

namespace passthru::sdk {

struct RuleKeyParts {
  std::string_view matcher;  ///< "SNI"
  std::string_view value;    ///< "example.com"
};

/// The two parts of "MATCHER value", or nullopt if the key does not have that shape.
inline std::optional<RuleKeyParts> split_rule_key(std::string_view text) noexcept {
  auto space = text.find(' ');
  if (space == 0 || space == std::string_view::npos || space + 1 == text.size()) return std::nullopt;
  std::string_view value = text.substr(space + 1);
  if (value.find(' ') != std::string_view::npos) return std::nullopt;
  return RuleKeyParts{text.substr(0, space), value};
}

}  // namespace passthru::sdk
