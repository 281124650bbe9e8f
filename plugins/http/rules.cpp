#include "rules.hpp"

#include "passthru/sdk/rule_key.hpp"

namespace passthru::http {

namespace {
constexpr std::string_view kMatchers[] = {"HOST", "PATH"};
constexpr std::string_view kAlone[] = {"H2C"};
constexpr passthru::sdk::RuleKeySyntax kSyntax{
    .protocol = "HTTP", .matchers = kMatchers, .alone = kAlone,
    .forms = "'HOST name', 'HOST *.suffix', 'HOST [ipv6]', 'PATH /prefix', 'H2C'"};
}  // namespace

void HttpRules::apply(std::span<const passthru::sdk::RuleKey> keys, passthru::sdk::Diagnostics& diagnostics) {
  catchall_ = passthru::sdk::read_rule_keys(keys, kSyntax, diagnostics, [&](const passthru::sdk::MatcherKey& key) {
    std::string_view value = key.value;
    if (key.matcher == "H2C") {
      h2c_ = key.index;
    } else if (key.matcher == "HOST" && value.front() == '[') {
      RequestHead probe;
      if (!set_host(value, probe) || probe.host().back() != ']' || probe.host().size() != value.size())
        key.refuse("write an IPv6 host as [2001:db8::1], without a port");
      else if (!ip_literals_.emplace(std::string(probe.host()), key.index).second)
        key.refuse("another rule already names '" + std::string(value) + "'");
    } else if (key.matcher == "HOST") {
      if (value.find(':') != std::string_view::npos)
        key.refuse("a HOST rule names a host without a port");
      else if (std::string why = names_.add(value, key.index); !why.empty())
        key.refuse(why);
    } else if (value.front() != '/') {
      key.refuse("a PATH prefix starts with '/'");
    } else if (!paths_.emplace(std::string(value), key.index).second) {
      key.refuse("another rule already names PATH '" + std::string(value) + "'");
    } else {
      path_lengths_.insert(value.size());
    }
  });
}

std::uint32_t HttpRules::select(const RequestHead& head) const noexcept {
  if (head.h2c) return h2c_.value_or(catchall_.value_or(passthru::sdk::kNoRule));
  if (head.host_state == HostState::Usable) {
    std::string_view host = head.host();
    if (host.front() == '[') {
      // std::string for the lookup: an IPv6 literal is short, so SSO keeps it off the heap.
      if (auto it = ip_literals_.find(std::string(host)); it != ip_literals_.end()) return it->second;
    } else if (auto rule = names_.find(host)) {
      return *rule;
    }
  }
  for (std::size_t length : path_lengths_) {
    if (head.path.size() < length) continue;
    if (auto it = paths_.find(std::string(head.path.substr(0, length))); it != paths_.end()) return it->second;
  }
  return catchall_.value_or(passthru::sdk::kNoRule);
}

}  // namespace passthru::http
