#include "tls_protocol.hpp"

#include <string_view>

#include "client_hello.hpp"
#include "passthru/sdk/export.hpp"

namespace passthru::tls {

using passthru::sdk::NoMatchReason;
using passthru::sdk::Verdict;
namespace fact_key = passthru::sdk::fact_key;

namespace {

/// "h2,http/1.1" for the log; unprintable bytes shown as '?', cut at 128 bytes.
std::string_view alpn_list(const ClientHello& hello) noexcept {
  thread_local char text[128];
  std::size_t used = 0;
  hello.any_alpn([&](std::string_view name) {
    if (used + name.size() + 1 > sizeof text) return true;
    if (used) text[used++] = ',';
    for (char c : name) text[used++] = (c >= 0x20 && c < 0x7F) ? c : '?';
    return false;
  });
  return {text, used};
}

}  // namespace

void TlsProtocol::apply_rules(std::span<const passthru::sdk::RuleKey> rules,
                              passthru::sdk::Diagnostics& diagnostics) {
  rules_.apply(rules, diagnostics);
}

Verdict TlsProtocol::identify(const passthru::sdk::ConnView& view) const noexcept {
  HelloParse parse = parse_client_hello(view.bytes, view.eof, view.capacity);
  switch (parse.status) {
    case HelloStatus::NeedMore: return Verdict::need_more(parse.need_bytes);
    case HelloStatus::NotTls: return Verdict::no_match(NoMatchReason::NotThisProtocol);
    case HelloStatus::Malformed: return Verdict::no_match(NoMatchReason::Malformed);
    case HelloStatus::TooLarge: return Verdict::no_match(NoMatchReason::TooLarge);
    case HelloStatus::Truncated: return Verdict::no_match(NoMatchReason::Truncated);
    case HelloStatus::Complete: break;
  }
  Verdict verdict = Verdict::match(rules_.select(parse.hello));
  // The name is at most sni_storage.size() bytes; saying so spares the compiler a false alarm.
  if (parse.hello.sni_length) verdict.facts.add(fact_key::kSni, parse.hello.sni().substr(0, parse.hello.sni_storage.size()));
  if (!parse.hello.alpn.empty()) {
    verdict.facts.add(fact_key::kAlpn, alpn_list(parse.hello));
    parse.hello.any_alpn([&](std::string_view first) {
      verdict.facts.add_wire(fact_key::kAlpnFirst, first);  // refused if it holds a NUL
      return true;                                           // the first protocol only
    });
  }
  if (parse.hello.sslv2) verdict.facts.add(fact_key::kHello, "sslv2");
  return verdict;
}

}  // namespace passthru::tls

PASSTHRU_EXPORT_PROTOCOL(passthru::tls::TlsProtocol)
