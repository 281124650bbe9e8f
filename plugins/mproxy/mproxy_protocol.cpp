#include "mproxy_protocol.hpp"

#include <array>

#include "passthru/sdk/export.hpp"
#include "passthru/sdk/rule_key.hpp"

namespace passthru::mproxy {

using passthru::sdk::NoMatchReason;
using passthru::sdk::Verdict;
namespace fact_key = passthru::sdk::fact_key;

namespace {
constexpr std::string_view kMatchers[] = {"NAME", "SERVICE", "SERVICEPORT"};
constexpr passthru::sdk::RuleKeySyntax kSyntax{
    .protocol = "MPROXY", .matchers = kMatchers,
    .forms = "'NAME name', 'NAME *.suffix', 'SERVICE name', 'SERVICEPORT port'"};
}  // namespace

void MproxyRules::apply(std::span<const passthru::sdk::RuleKey> keys, passthru::sdk::Diagnostics& diagnostics) {
  catchall_ = passthru::sdk::read_rule_keys(keys, kSyntax, diagnostics, [&](const passthru::sdk::MatcherKey& key) {
    std::string value(key.value);
    if (key.matcher == "NAME") {
      if (std::string why = names_.add(value, key.index); !why.empty()) key.refuse(why);
      return;
    }
    bool taken = false;
    if (key.matcher == "SERVICE") {
      taken = !services_.emplace(value, key.index).second;
    } else {
      bool number = value.size() <= 5 && value.find_first_not_of("0123456789") == std::string::npos &&
                    std::stoul(value) <= 65535;
      if (!number) {
        key.refuse("a SERVICEPORT is a port number");
        return;
      }
      taken = !ports_.emplace(std::to_string(std::stoul(value)), key.index).second;
    }
    if (taken) key.refuse("another rule already names " + std::string(key.matcher) + " '" + value + "'");
  });
}

std::uint32_t MproxyRules::select(const Meta& meta) const {
  std::array<char, 255> name{};
  std::size_t length = 0;
  if (!meta.name.empty() && passthru::common::normalize_host_name(meta.name, name.data(), length)) {
    if (auto rule = names_.find({name.data(), length})) return *rule;
  }
  if (auto it = services_.find(meta.service); !meta.service.empty() && it != services_.end()) return it->second;
  if (auto it = ports_.find(meta.serviceport); !meta.serviceport.empty() && it != ports_.end()) return it->second;
  return catchall_.value_or(passthru::sdk::kNoRule);
}

void MproxyProtocol::apply_rules(std::span<const passthru::sdk::RuleKey> rules,
                                 passthru::sdk::Diagnostics& diagnostics) {
  rules_.apply(rules, diagnostics);
}

Verdict MproxyProtocol::identify(const passthru::sdk::ConnView& view) const noexcept {
  // The first message's header decides: 0xFE, a length, then that many header bytes.
  const auto& b = view.bytes;
  auto need = [&](std::size_t total) {
    if (total > view.capacity) return Verdict::no_match(NoMatchReason::TooLarge);
    if (view.eof) return Verdict::no_match(NoMatchReason::Truncated);
    return Verdict::need_more(total);
  };
  if (b.empty()) return need(1);
  if (b[0] != kVersion1) return Verdict::no_match(NoMatchReason::NotThisProtocol);
  if (b.size() < 2) return need(2);
  std::size_t length = b[1];
  if (length == 0) return Verdict::no_match(NoMatchReason::Malformed);
  // A header is ASCII text: reject at the first byte that is not, before it is all there.
  for (std::size_t i = 2; i < b.size() && i < 2 + length; ++i)
    if (b[i] < 0x20 && b[i] != '\n' && b[i] != '\r') return Verdict::no_match(NoMatchReason::NotThisProtocol);
  if (b.size() < 2 + length) return need(2 + length);
  try {
    std::string error;
    auto header = parse_header(passthru::sdk::as_chars(b.subspan(2, length)), SIZE_MAX, error);
    if (!header) return Verdict::no_match(NoMatchReason::Malformed);
    Verdict verdict = Verdict::match(rules_.select(header->meta));
    verdict.facts.add(fact_key::kMproxy, to_string(header->kind));
    if (!header->meta.name.empty()) verdict.facts.add(fact_key::kMproxyName, header->meta.name);
    if (!header->meta.service.empty()) verdict.facts.add(fact_key::kMproxyService, header->meta.service);
    if (!header->meta.serviceport.empty())
      verdict.facts.add(fact_key::kMproxyServicePort, header->meta.serviceport);
    return verdict;
  } catch (...) {  // std::string may throw bad_alloc; never across identify()
    return Verdict::no_match(NoMatchReason::TooLarge);
  }
}

std::optional<std::uint32_t> MproxyProtocol::select_rule(const passthru::sdk::Facts& facts) const noexcept {
  try {
    Meta meta;
    meta.name = facts.find(fact_key::kMproxyName);
    meta.service = facts.find(fact_key::kMproxyService);
    meta.serviceport = facts.find(fact_key::kMproxyServicePort);
    return rules_.select(meta);
  } catch (...) {  // std::string may throw bad_alloc; never across select_rule()
    return passthru::sdk::kNoRule;
  }
}

}  // namespace passthru::mproxy

PASSTHRU_EXPORT_PROTOCOL(passthru::mproxy::MproxyProtocol)
