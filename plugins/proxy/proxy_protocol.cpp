#include "proxy_protocol.hpp"

#include "passthru/sdk/export.hpp"
#include "proxy_header.hpp"

namespace passthru::proxy {

using passthru::sdk::NoMatchReason;
using passthru::sdk::Verdict;
namespace fact_key = passthru::sdk::fact_key;

void ProxyProtocol::apply_rules(std::span<const passthru::sdk::RuleKey> rules,
                                passthru::sdk::Diagnostics& diagnostics) {
  rules_.apply(rules, diagnostics);
}

Verdict ProxyProtocol::identify(const passthru::sdk::ConnView& view) const noexcept {
  HeaderParse parse = parse_proxy_header(view.bytes, view.eof, view.capacity);
  switch (parse.status) {
    case HeaderStatus::NeedMore: return Verdict::need_more(parse.need_bytes);
    case HeaderStatus::NotProxy: return Verdict::no_match(NoMatchReason::NotThisProtocol);
    case HeaderStatus::Malformed: return Verdict::no_match(NoMatchReason::Malformed);
    case HeaderStatus::TooLarge: return Verdict::no_match(NoMatchReason::TooLarge);
    case HeaderStatus::Truncated: return Verdict::no_match(NoMatchReason::Truncated);
    case HeaderStatus::Complete: break;
  }
  const ProxyHeader& h = parse.header;
  Verdict verdict = Verdict::match(rules_.select(view.peer));
  verdict.consumed = static_cast<std::uint32_t>(h.length);
  verdict.adopted = h.addresses;
  verdict.facts.add(fact_key::kProxy, h.version == 1 ? (h.addresses.present ? "v1" : "v1-unknown")
                                                : (h.local ? "v2-local" : h.addresses.present ? "v2" : "v2-unspec"));
  if (!h.authority.empty()) verdict.facts.add(fact_key::kProxyAuthority, h.authority);
  if (!h.alpn.empty()) verdict.facts.add(fact_key::kProxyAlpn, h.alpn);
  if (!h.unique_id.empty()) {
    char hex[2 * 128];
    static constexpr char kDigits[] = "0123456789abcdef";
    for (std::size_t i = 0; i < h.unique_id.size(); ++i) {
      hex[2 * i] = kDigits[h.unique_id[i] >> 4];
      hex[2 * i + 1] = kDigits[h.unique_id[i] & 0x0F];
    }
    verdict.facts.add(fact_key::kProxyUniqueId, {hex, 2 * h.unique_id.size()});
  }
  return verdict;
}

}  // namespace passthru::proxy

PASSTHRU_EXPORT_PROTOCOL(passthru::proxy::ProxyProtocol)
