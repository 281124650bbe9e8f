#include "rules.hpp"

#include "passthru/sdk/rule_key.hpp"

namespace passthru::tls {

namespace {
constexpr std::string_view kMatchers[] = {"SNI", "ALPN"};
constexpr passthru::sdk::RuleKeySyntax kSyntax{
    .protocol = "TLS", .matchers = kMatchers, .forms = "'SNI name', 'SNI *.suffix', 'ALPN protocol'"};
}  // namespace

void TlsRules::apply(std::span<const passthru::sdk::RuleKey> keys,
                     passthru::sdk::Diagnostics& diagnostics) {
  catchall_ = passthru::sdk::read_rule_keys(keys, kSyntax, diagnostics, [&](const passthru::sdk::MatcherKey& key) {
    if (key.matcher == "SNI") {
      if (std::string why = names_.add(key.value, key.index); !why.empty()) key.refuse(why);
    } else if (key.value.size() > 255) {
      key.refuse("an ALPN name has at most 255 bytes");
    } else if (!alpn_.emplace(std::string(key.value), key.index).second) {
      key.refuse("another rule already names ALPN '" + std::string(key.value) + "'");
    }
  });
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
