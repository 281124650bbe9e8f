// HttpProtocol: the HTTP detector plugin, table [servers."ADDR".HTTP]. It adapts
// parse_request_head (facts) and HttpRules (rule choice) to the SDK's Protocol interface.
// Its keys and limits are in README.md beside it.
#pragma once

#include "passthru/sdk/protocol.hpp"
#include "rules.hpp"

namespace passthru::http {

class HttpProtocol final : public passthru::sdk::Protocol {
 public:
  std::string_view name() const noexcept override { return "HTTP"; }
  void apply_rules(std::span<const passthru::sdk::RuleKey> rules,
                   passthru::sdk::Diagnostics& diagnostics) override;
  passthru::sdk::Verdict identify(const passthru::sdk::ConnView& view) const noexcept override;

 private:
  HttpRules rules_;
};

}  // namespace passthru::http
