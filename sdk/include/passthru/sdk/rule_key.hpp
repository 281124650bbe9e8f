// Reading a table's rule keys the same way in every plugin.
//  - split_rule_key reads one key "MATCHER value": exactly one space between a matcher and a
//    value that are both non-empty and hold no other space.
//  - read_rule_keys walks every key of a table: it keeps CATCHALL's index, hands each key that
//    names one of the table's matchers to the plugin, and refuses every other key with one
//    message of one shape, "rule key 'KEY': why; P rule keys are … or 'CATCHALL'".
// What a matcher's value means (a host name, a prefix, a glob), and so whether it is refused,
// is the plugin's to say, through MatcherKey::refuse, which gives its message the same shape.
#pragma once

#include "passthru/sdk/requires_cxx20.hpp"  // first: one clear line for an older -std

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "passthru/sdk/diagnostics.hpp"
#include "passthru/sdk/protocol.hpp"

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

/// What a table's keys may be, for read_rule_keys and for the messages it writes.
struct RuleKeySyntax {
  std::string_view protocol;                     ///< "TLS"
  std::span<const std::string_view> matchers;    ///< written "MATCHER value": {"SNI", "ALPN"}
  std::span<const std::string_view> alone = {};  ///< written without a value: {"H2C"}
  /// Every form but CATCHALL, for people: "'SNI name', 'SNI *.suffix', 'ALPN protocol'".
  std::string_view forms;

  /// "TLS rule keys are 'SNI name', 'SNI *.suffix', 'ALPN protocol' or 'CATCHALL'".
  [[nodiscard]] std::string sentence() const {
    return std::string(protocol) + " rule keys are " + std::string(forms) + " or 'CATCHALL'";
  }
};

/// A rule key that names one of its table's matchers, as read_rule_keys hands it over.
class MatcherKey {
 public:
  MatcherKey(std::uint32_t index, const RuleKey& key, RuleKeyParts parts, Diagnostics& diagnostics) noexcept
      : index(index), matcher(parts.matcher), value(parts.value), key_(key), diagnostics_(diagnostics) {}

  std::uint32_t index;     ///< among the table's keys: what a Match names
  std::string_view matcher;  ///< "SNI"
  std::string_view value;    ///< "example.com"; empty for a matcher written alone

  /// Refuses this key, saying why: "rule key 'SNI a..b': <why>".
  void refuse(std::string_view why) const { refuse_key(key_, why, diagnostics_); }

  /// The one shape of every refusal of a rule key.
  static void refuse_key(const RuleKey& key, std::string_view why, Diagnostics& diagnostics) {
    diagnostics.error(key.where, "rule key '" + key.text + "': " + std::string(why));
  }

 private:
  const RuleKey& key_;
  Diagnostics& diagnostics_;
};

/// Reads every key of a table: calls on_matcher(const MatcherKey&) for each key that names one
/// of `syntax`'s matchers, in order, and refuses the others through `diagnostics`: a matcher
/// without its value, a key not of the form "MATCHER value", one whose matcher the table does
/// not have, a value after a matcher written alone. Returns CATCHALL's index, if the table has it.
template <typename OnMatcher>
std::optional<std::uint32_t> read_rule_keys(std::span<const RuleKey> keys, const RuleKeySyntax& syntax,
                                            Diagnostics& diagnostics, OnMatcher&& on_matcher) {
  auto is_one_of = [](std::span<const std::string_view> names, std::string_view name) {
    return std::find(names.begin(), names.end(), name) != names.end();
  };
  std::optional<std::uint32_t> catchall;
  for (std::uint32_t index = 0; index < keys.size(); ++index) {
    const RuleKey& key = keys[index];
    std::string_view text = key.text;
    if (text == "CATCHALL") {
      catchall = index;
      continue;
    }
    if (is_one_of(syntax.alone, text)) {
      on_matcher(MatcherKey(index, key, {text, {}}, diagnostics));
      continue;
    }
    auto parts = split_rule_key(text);
    if (!parts && is_one_of(syntax.matchers, text))
      MatcherKey::refuse_key(key, std::string(text) + " needs a value; " + syntax.sentence(), diagnostics);
    else if (!parts)
      MatcherKey::refuse_key(key, "not of the form 'MATCHER value'; " + syntax.sentence(), diagnostics);
    else if (is_one_of(syntax.matchers, parts->matcher))
      on_matcher(MatcherKey(index, key, *parts, diagnostics));
    else if (is_one_of(syntax.alone, parts->matcher))
      MatcherKey::refuse_key(key, std::string(parts->matcher) + " takes no value; " + syntax.sentence(), diagnostics);
    else
      MatcherKey::refuse_key(key, "unknown matcher '" + std::string(parts->matcher) + "'; " + syntax.sentence(),
                             diagnostics);
  }
  return catchall;
}

}  // namespace passthru::sdk
