#include "http_protocol.hpp"

#include "passthru/sdk/export.hpp"

namespace passthru::http {

using passthru::sdk::NoMatchReason;
using passthru::sdk::Verdict;
namespace fact_key = passthru::sdk::fact_key;

void HttpProtocol::apply_rules(std::span<const passthru::sdk::RuleKey> rules,
                               passthru::sdk::Diagnostics& diagnostics) {
  rules_.apply(rules, diagnostics);
}

Verdict HttpProtocol::identify(const passthru::sdk::ConnView& view) const noexcept {
  HeadParse parse = parse_request_head(view.bytes, view.eof, view.capacity, rules_.needs_host());
  switch (parse.status) {
    case HeadStatus::NeedMore: return Verdict::need_more(parse.need_bytes);
    case HeadStatus::NotHttp: return Verdict::no_match(NoMatchReason::NotThisProtocol);
    case HeadStatus::Malformed: return Verdict::no_match(NoMatchReason::Malformed);
    case HeadStatus::TooLarge: return Verdict::no_match(NoMatchReason::TooLarge);
    case HeadStatus::Truncated: return Verdict::no_match(NoMatchReason::Truncated);
    case HeadStatus::Complete: break;
  }
  Verdict verdict = Verdict::match(rules_.select(parse.head));
  if (parse.head.h2c) {
    verdict.facts.add(fact_key::kHttp, "h2c");
    return verdict;
  }
  verdict.facts.add(fact_key::kMethod, parse.head.method);
  switch (parse.head.host_state) {
    case HostState::Usable: verdict.facts.add(fact_key::kHost, parse.head.host()); break;
    case HostState::Ambiguous: verdict.facts.add_ambiguous(fact_key::kHost); break;
    case HostState::None: break;
  }
  return verdict;
}

}  // namespace passthru::http

PASSTHRU_EXPORT_PROTOCOL(passthru::http::HttpProtocol)
