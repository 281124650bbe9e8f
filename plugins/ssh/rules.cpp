#include "rules.hpp"

#include <algorithm>

#include "passthru/sdk/rule_key.hpp"

namespace passthru::ssh {

namespace {
constexpr std::string_view kMatchers[] = {"VERSION"};
constexpr passthru::sdk::RuleKeySyntax kSyntax{
    .protocol = "SSH", .matchers = kMatchers, .forms = "'VERSION glob' (e.g. 'VERSION OpenSSH_*')"};
}  // namespace

bool glob_matches(std::string_view pattern, std::string_view text) noexcept {
  // Iterative matching with one backtrack point: linear in practice, never exponential.
  std::size_t p = 0, t = 0, star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

void SshRules::apply(std::span<const passthru::sdk::RuleKey> keys, passthru::sdk::Diagnostics& diagnostics) {
  catchall_ = passthru::sdk::read_rule_keys(keys, kSyntax, diagnostics, [&](const passthru::sdk::MatcherKey& key) {
    std::string_view value = key.value;
    bool printable = std::all_of(value.begin(), value.end(), [](char c) { return c > 0x20 && c < 0x7F; });
    if (!printable) {
      key.refuse("a software version has no spaces or control characters");
      return;
    }
    auto literals = static_cast<std::size_t>(std::count_if(value.begin(), value.end(), [](char c) { return c != '*' && c != '?'; }));
    bool duplicate = std::any_of(versions_.begin(), versions_.end(), [&](const auto& r) { return r.pattern == value; });
    if (duplicate) {
      key.refuse("another rule already names VERSION '" + std::string(value) + "'");
      return;
    }
    versions_.push_back({std::string(value), literals, key.index});
  });
  std::sort(versions_.begin(), versions_.end(), [](const VersionRule& a, const VersionRule& b) {
    return a.literals != b.literals ? a.literals > b.literals : a.pattern < b.pattern;
  });
}

std::uint32_t SshRules::select(const Banner& banner) const noexcept {
  for (const auto& rule : versions_)
    if (glob_matches(rule.pattern, banner.software_version)) return rule.rule;
  return catchall_.value_or(passthru::sdk::kNoRule);
}

}  // namespace passthru::ssh
