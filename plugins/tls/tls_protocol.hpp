// TlsProtocol: the TLS detector plugin, table [servers."ADDR".TLS]. It adapts
// parse_client_hello (facts) and TlsRules (rule choice) to the SDK's Protocol interface.
// Its keys and limits are in README.md beside it.
#pragma once

#include "passthru/sdk/protocol.hpp"
#include "rules.hpp"

namespace passthru::tls {

class TlsProtocol final : public passthru::sdk::Protocol {
 public:
  std::string_view name() const noexcept override { return "TLS"; }
  void apply_rules(std::span<const passthru::sdk::RuleKey> rules,
                   passthru::sdk::Diagnostics& diagnostics) override;
  passthru::sdk::Verdict identify(const passthru::sdk::ConnView& view) const noexcept override;

 private:
  TlsRules rules_;
};

}  // namespace passthru::tls
