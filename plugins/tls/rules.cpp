#include "rules.hpp"

#include "passthru/sdk/rule_key.hpp"

namespace passthru::tls {

namespace {
constexpr const char* kSyntax =
    "TLS rule keys are 'SNI name', 'SNI *.suffix', 'ALPN protocol' or 'CATCHALL'";
}

void TlsRules::apply(std::span<const passthru::sdk::RuleKey> keys,
                     passthru::sdk::Diagnostics& diagnostics) {
  for (std::uint32_t index = 0; index < keys.size(); ++index) {
    const auto& key = keys[index];
    std::string_view text = key.text;
    if (text == "CATCHALL") {
      catchall_ = index;
      continue;
    }
    auto parts = passthru::sdk::split_rule_key(text);
    std::string_view matcher = parts ? parts->matcher : "";
    std::string_view value = parts ? parts->value : "";
    if (!parts) {
      diagnostics.error(key.where, "rule key '" + key.text + "' is not 'MATCHER value'; " + kSyntax);
    } else if (matcher == "SNI") {
      if (std::string why = names_.add(value, index); !why.empty())
        diagnostics.error(key.where, "rule key '" + key.text + "': " + why);
    } else if (matcher == "ALPN") {
      if (value.size() > 255)
        diagnostics.error(key.where, "rule key '" + key.text + "': an ALPN name has at most 255 bytes");
      else if (!alpn_.emplace(std::string(value), index).second)
        diagnostics.error(key.where, "another rule already names ALPN '" + std::string(value) + "'");
    } else {
      diagnostics.error(key.where, "unknown TLS matcher '" + std::string(matcher) + "'; " + kSyntax);
    }
  }
}

std::uint32_t TlsRules::select(const ClientHello& hello) const noexcept {
  if (hello.sni_length != 0) {
    if (auto rule = names_.find(hello.sni())) return *rule;
  }
  if (!alpn_.empty()) {
    std::uint32_t found = passthru::sdk::kNoRule;
    hello.any_alpn([&](std::string_view offered) {
      // std::string for lookup allocates; ALPN names are short so SSO keeps this on the stack.
      auto it = alpn_.find(std::string(offered));
      if (it == alpn_.end()) return false;
      found = it->second;
      return true;
    });
    if (found != passthru::sdk::kNoRule) return found;
  }
  return catchall_.value_or(passthru::sdk::kNoRule);
}

}  // namespace passthru::tls
