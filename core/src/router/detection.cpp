#include "detection.hpp"

#include <algorithm>

namespace passthru::core {

using passthru::sdk::VerdictKind;

const char* to_token(FallbackReason reason) noexcept {
  switch (reason) {
    case FallbackReason::NoProtocol: return "no_protocol";
    case FallbackReason::NoRule: return "no_rule";
    case FallbackReason::BufferFull: return "buffer_full";
    case FallbackReason::ClientEof: return "client_eof";
    case FallbackReason::NoTunnel: return "no_tunnel";
    case FallbackReason::Timeout: return "timeout";
  }
  return "unknown";
}

Decision Detection::fallback(FallbackReason reason, const ProtocolTable* protocol) const noexcept {
  Decision d;
  d.kind = Decision::Kind::ServerCatchall;
  d.fallback = reason;
  d.protocol = protocol;
  d.action = server_->catchall ? &*server_->catchall : nullptr;
  return d;
}

const Action* Detection::admitted(const ProtocolTable& table, const Action& action, const sockaddr* peer) const noexcept {
  if (action.client.empty()) return &action;
  // The client is who the last trusted header said, else the TCP peer.
  const sockaddr* client = peer;
  if (unwrapped_ && unwrapped_->adopted.present) client = reinterpret_cast<const sockaddr*>(&unwrapped_->adopted.source);
  if (action.client.admits(client)) return &action;
  for (const Action& other : table.actions)
    if (other.rule == "CATCHALL") return &other != &action && other.client.admits(client) ? &other : nullptr;
  return nullptr;
}

Decision Detection::advance(passthru::sdk::ByteSpan all, bool eof, bool full, const sockaddr* peer) noexcept {
  const auto& protocols = server_->protocols;
  while (current_ < protocols.size()) {
    // Everything after the headers that UNWRAP rules stripped.
    const std::uint32_t offset = unwrapped().offset;
    passthru::sdk::ByteSpan bytes = all.subspan(std::min<std::size_t>(offset, all.size()));
    const std::size_t capacity = server_->max_sniff_bytes - offset;
    if (used_ >> current_ & 1) {
      ++current_;
      continue;
    }
    if (!eof && !full && bytes.size() < wanted_) return {};
    const ProtocolTable& table = protocols[current_];
    passthru::sdk::Verdict verdict = table.protocol->identify({bytes, eof, capacity, peer});
    if (verdict.kind == VerdictKind::NeedMore && !eof && !full && verdict.need_bytes <= capacity) {
      // Wait for what it asked for, and never less than one more byte.
      wanted_ = std::max<std::uint32_t>(verdict.need_bytes, static_cast<std::uint32_t>(bytes.size() + 1));
      return {};
    }
    if (verdict.kind == VerdictKind::Match) {
      if (verdict.rule >= table.actions.size()) {
        Decision d = fallback(FallbackReason::NoRule, &table);
        d.facts = FactList(verdict.facts);
        return d;
      }
      const Action* chosen = admitted(table, table.actions[verdict.rule], peer);
      if (!chosen) {  // the rule (and its table's CATCHALL) is not for this client
        Decision d = fallback(FallbackReason::NoRule, &table);
        d.facts = FactList(verdict.facts);
        return d;
      }
      const Action& action = *chosen;
      if (action.kind == ActionKind::Unwrap && verdict.consumed <= bytes.size()) {
        // Believe the header: strip it, keep what it said, and detect again from the start
        // of the listener's protocols on what follows, without this one.
        if (!unwrapped_) unwrapped_ = std::make_unique<Unwrapped>();
        unwrapped_->offset += verdict.consumed;
        if (verdict.adopted.present) unwrapped_->adopted = verdict.adopted;
        unwrapped_->facts = FactList(verdict.facts);
        used_ |= std::uint64_t{1} << current_;
        current_ = 0;
        wanted_ = 0;
        continue;
      }
      Decision d;
      d.kind = Decision::Kind::Rule;
      d.protocol = &table;
      d.action = &action;
      d.facts = FactList(verdict.facts);
      return d;
    }
    // NoMatch, or NeedMore that can no longer be satisfied: the next protocol's turn.
    ++current_;
    wanted_ = 0;
  }
  return fallback(eof ? FallbackReason::ClientEof
                      : full ? FallbackReason::BufferFull : FallbackReason::NoProtocol,
                  nullptr);
}

Decision Detection::on_timeout() const noexcept { return fallback(FallbackReason::Timeout, nullptr); }

}  // namespace passthru::core
