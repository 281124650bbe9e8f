#include "rules.hpp"

#include "passthru/sdk/rule_key.hpp"

namespace passthru::http {

namespace {
constexpr const char* kSyntax =
    "HTTP rule keys are 'HOST name', 'HOST *.suffix', 'HOST [ipv6]', 'PATH /prefix', 'H2C' or 'CATCHALL'";
}

void HttpRules::apply(std::span<const passthru::sdk::RuleKey> keys, passthru::sdk::Diagnostics& diagnostics) {
  for (std::uint32_t index = 0; index < keys.size(); ++index) {
    const auto& key = keys[index];
    std::string_view text = key.text;
    if (text == "CATCHALL") {
      catchall_ = index;
      continue;
    }
    if (text == "H2C") {
      h2c_ = index;
      continue;
    }
    auto parts = passthru::sdk::split_rule_key(text);
    std::string_view matcher = parts ? parts->matcher : "";
    std::string_view value = parts ? parts->value : "";
    if (!parts) {
      diagnostics.error(key.where, "rule key '" + key.text + "' is not 'MATCHER value'; " + kSyntax);
    } else if (matcher == "HOST" && value.front() == '[') {
      RequestHead probe;
      if (!set_host(value, probe) || probe.host().back() != ']' || probe.host().size() != value.size())
        diagnostics.error(key.where, "rule key '" + key.text + "': write an IPv6 host as [2001:db8::1], without a port");
      else if (!ip_literals_.emplace(std::string(probe.host()), index).second)
        diagnostics.error(key.where, "another rule already names '" + std::string(value) + "'");
    } else if (matcher == "HOST") {
      if (value.find(':') != std::string_view::npos)
        diagnostics.error(key.where, "rule key '" + key.text + "': a HOST rule names a host without a port");
      else if (std::string why = names_.add(value, index); !why.empty())
        diagnostics.error(key.where, "rule key '" + key.text + "': " + why);
    } else if (matcher == "PATH") {
      if (value.front() != '/')
        diagnostics.error(key.where, "rule key '" + key.text + "': a PATH prefix starts with '/'");
      else if (!paths_.emplace(std::string(value), index).second)
        diagnostics.error(key.where, "another rule already names PATH '" + std::string(value) + "'");
      else
        path_lengths_.insert(value.size());
    } else {
      diagnostics.error(key.where, "unknown HTTP matcher '" + std::string(matcher) + "'; " + kSyntax);
    }
  }
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
