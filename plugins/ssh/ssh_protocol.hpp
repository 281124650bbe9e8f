// SshProtocol: the SSH detector plugin, table [servers."ADDR".SSH]. It adapts parse_banner
// (facts) and SshRules (rule choice) to the SDK's Protocol interface. Clients that wait for
// the server's banner send nothing, so they never reach this detector: see README.md.
#pragma once

#include "passthru/sdk/protocol.hpp"
#include "rules.hpp"

namespace passthru::ssh {

class SshProtocol final : public passthru::sdk::Protocol {
 public:
  std::string_view name() const noexcept override { return "SSH"; }
  void apply_rules(std::span<const passthru::sdk::RuleKey> rules,
                   passthru::sdk::Diagnostics& diagnostics) override;
  passthru::sdk::Verdict identify(const passthru::sdk::ConnView& view) const noexcept override;

 private:
  SshRules rules_;
};

}  // namespace passthru::ssh
