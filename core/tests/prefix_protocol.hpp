// PrefixProtocol: a detector for tests of what consults detectors (Detection, Sniffer). It
// matches input that starts with a given prefix, says NoMatch as soon as the input cannot,
// asks for the whole prefix while it is incomplete, and counts how often it was asked.
// It is not a model of any real protocol.
#pragma once

#include <algorithm>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "passthru/sdk/protocol.hpp"

namespace passthru::core::testing {

class PrefixProtocol final : public sdk::Protocol {
 public:
  /// Matches rule 0, or no rule when `has_rule` is false (a recognised protocol with no rule).
  explicit PrefixProtocol(std::string prefix, bool has_rule = true)
      : prefix_(std::move(prefix)), has_rule_(has_rule) {}
  std::string_view name() const noexcept override { return prefix_; }
  void apply_rules(std::span<const sdk::RuleKey>, sdk::Diagnostics&) override {}
  sdk::Verdict identify(const sdk::ConnView& view) const noexcept override {
    ++calls;
    std::size_t n = std::min(view.bytes.size(), prefix_.size());
    if (sdk::as_chars(view.bytes.first(n)) != std::string_view(prefix_).substr(0, n))
      return sdk::Verdict::no_match(sdk::NoMatchReason::NotThisProtocol);
    if (n < prefix_.size()) return sdk::Verdict::need_more(prefix_.size());
    return sdk::Verdict::match(has_rule_ ? 0 : sdk::kNoRule);
  }
  mutable int calls = 0;

 private:
  std::string prefix_;
  bool has_rule_;
};

}  // namespace passthru::core::testing
