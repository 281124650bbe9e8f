// SshRules: which rule of an SSH table an identification string selects. No parsing of bytes.
// `VERSION glob` matches the software version ("OpenSSH_*", "PuTTY_Release_0.7?"). When several
// globs match, the most specific wins: the one with the most literal characters, then the one
// that sorts first, so the order of the file never matters. Then CATCHALL.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "banner.hpp"
#include "passthru/sdk/protocol.hpp"

namespace passthru::ssh {

/// Shell-style glob: '*' any run of characters, '?' one character; case-sensitive.
bool glob_matches(std::string_view pattern, std::string_view text) noexcept;

class SshRules {
 public:
  void apply(std::span<const passthru::sdk::RuleKey> keys, passthru::sdk::Diagnostics& diagnostics);
  [[nodiscard]] std::uint32_t select(const Banner& banner) const noexcept;

 private:
  struct VersionRule {
    std::string pattern;
    std::size_t literals;
    std::uint32_t rule;
  };
  std::vector<VersionRule> versions_;  ///< most specific first
  std::optional<std::uint32_t> catchall_;
};

}  // namespace passthru::ssh
