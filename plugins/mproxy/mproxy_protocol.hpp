// MproxyProtocol: the M-PROXY detector plugin, table [servers."ADDR".MPROXY]. It recognises an
// M-PROXY stream by its first header (passthru/wire/mproxy_codec.hpp) and chooses a rule by that
// header's name, service and service port; select_rule() makes the same choice from those three
// facts, for the streams of a DEMUX tunnel, whose headers the host reads itself. Its keys are in
// README.md beside it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>

#include "../common/name_table.hpp"
#include "passthru/sdk/protocol.hpp"
#include "passthru/wire/mproxy_codec.hpp"

namespace passthru::mproxy {

/// Which rule a header's meta selects: exact NAME > longest "*." NAME > SERVICE > SERVICEPORT
/// > CATCHALL, whatever the order of the file.
class MproxyRules {
 public:
  void apply(std::span<const passthru::sdk::RuleKey> keys, passthru::sdk::Diagnostics& diagnostics);
  [[nodiscard]] std::uint32_t select(const Meta& meta) const;

 private:
  passthru::common::NameTable names_;
  std::unordered_map<std::string, std::uint32_t> services_;
  std::unordered_map<std::string, std::uint32_t> ports_;
  std::optional<std::uint32_t> catchall_;
};

class MproxyProtocol final : public passthru::sdk::Protocol {
 public:
  std::string_view name() const noexcept override { return "MPROXY"; }
  void apply_rules(std::span<const passthru::sdk::RuleKey> rules,
                   passthru::sdk::Diagnostics& diagnostics) override;
  passthru::sdk::Verdict identify(const passthru::sdk::ConnView& view) const noexcept override;
  /// The rule the facts "name", "service" and "serviceport" select, as identify() gives them.
  std::optional<std::uint32_t> select_rule(const passthru::sdk::Facts& facts) const noexcept override;

 private:
  MproxyRules rules_;
};

}  // namespace passthru::mproxy
