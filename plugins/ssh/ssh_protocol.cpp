#include "ssh_protocol.hpp"

#include "passthru/sdk/export.hpp"

namespace passthru::ssh {

using passthru::sdk::NoMatchReason;
using passthru::sdk::Verdict;
namespace fact_key = passthru::sdk::fact_key;

void SshProtocol::apply_rules(std::span<const passthru::sdk::RuleKey> rules,
                              passthru::sdk::Diagnostics& diagnostics) {
  rules_.apply(rules, diagnostics);
}

Verdict SshProtocol::identify(const passthru::sdk::ConnView& view) const noexcept {
  BannerParse parse = parse_banner(view.bytes, view.eof);
  switch (parse.status) {
    case BannerStatus::NeedMore: return Verdict::need_more(parse.need_bytes);
    case BannerStatus::NotSsh: return Verdict::no_match(NoMatchReason::NotThisProtocol);
    case BannerStatus::Malformed: return Verdict::no_match(NoMatchReason::Malformed);
    case BannerStatus::Truncated: return Verdict::no_match(NoMatchReason::Truncated);
    case BannerStatus::Complete: break;
  }
  Verdict verdict = Verdict::match(rules_.select(parse.banner));
  verdict.facts.add(fact_key::kSshVersion, parse.banner.protocol_version);
  verdict.facts.add(fact_key::kSshSoftware, parse.banner.software_version);
  return verdict;
}

}  // namespace passthru::ssh

PASSTHRU_EXPORT_PROTOCOL(passthru::ssh::SshProtocol)
