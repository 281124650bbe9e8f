// ProxyProtocol: the PROXY protocol detector plugin, table [servers."ADDR".PROXY]. It adapts
// parse_proxy_header (the header and what it carries) and ProxyRules (whom to believe) to the
// SDK's Protocol interface. A Match says how long the header is and which addresses it carries;
// an UNWRAP rule in the config strips it and detection goes on after it. See README.md.
#pragma once

#include "passthru/sdk/protocol.hpp"
#include "rules.hpp"

namespace passthru::proxy {

class ProxyProtocol final : public passthru::sdk::Protocol {
 public:
  std::string_view name() const noexcept override { return "PROXY"; }
  void apply_rules(std::span<const passthru::sdk::RuleKey> rules,
                   passthru::sdk::Diagnostics& diagnostics) override;
  passthru::sdk::Verdict identify(const passthru::sdk::ConnView& view) const noexcept override;

 private:
  ProxyRules rules_;
};

}  // namespace passthru::proxy
