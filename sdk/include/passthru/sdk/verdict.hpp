// Verdict: a detector's answer about the bytes a connection has sent so far.
// It is one of three things (need more, no match, match) and is never built from a bool.
// Its facts (facts.hpp) are what the detector saw (SNI, ALPN...), kept inline so that answering
// allocates nothing.
#pragma once

#include "passthru/sdk/requires_cxx20.hpp"  // first: one clear line for an older -std

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>

#include "passthru/sdk/facts.hpp"

namespace passthru::sdk {

enum class VerdictKind : std::uint8_t {
  NeedMore,  ///< Cannot decide yet; wait until `need_bytes` bytes are buffered.
  NoMatch,   ///< Not this protocol (or not a usable instance of it); see NoMatchReason.
  Match,     ///< This protocol; `rule` says which of its rules applies.
};

enum class NoMatchReason : std::uint8_t {
  NotThisProtocol,  ///< The bytes cannot start this protocol.
  Malformed,        ///< They start like it, then break its grammar.
  TooLarge,         ///< The message would not fit in the connection's buffer.
  Truncated,        ///< The client stopped sending (EOF) before the message was complete.
};

/// The rule index a Match carries when the protocol recognised its bytes but none of its
/// rules (not even its CATCHALL) applies. The core then uses the server's CATCHALL.
inline constexpr std::uint32_t kNoRule = 0xFFFFFFFFu;

/// The addresses a header (the PROXY protocol's) says the connection really has: the client it
/// came from and the address it was sent to. The host adopts them only for an UNWRAP rule.
struct AdoptedAddresses {
  bool present = false;  ///< false: keep the TCP connection's own addresses (LOCAL, UNKNOWN)
  sockaddr_storage source{};
  sockaddr_storage destination{};
};

struct Verdict {
  VerdictKind kind = VerdictKind::NeedMore;
  std::uint32_t need_bytes = 0;  ///< NeedMore: the total buffered size worth polling again at.
  NoMatchReason reason = NoMatchReason::NotThisProtocol;  ///< NoMatch only.
  std::uint32_t rule = kNoRule;  ///< Match: index into the rules given to apply_rules.
  Facts facts;                   ///< Match (and sometimes NoMatch): what was seen (facts.hpp).
  /// Match: how many leading bytes are a header that an UNWRAP rule strips before detection
  /// goes on over the rest (the PROXY protocol's); 0 for protocols that carry no such header.
  std::uint32_t consumed = 0;
  AdoptedAddresses adopted;  ///< Match with `consumed`: the addresses the header carried.

  static Verdict need_more(std::size_t total_bytes) noexcept {
    Verdict v;
    v.kind = VerdictKind::NeedMore;
    v.need_bytes = static_cast<std::uint32_t>(total_bytes);
    return v;
  }
  static Verdict no_match(NoMatchReason why) noexcept {
    Verdict v;
    v.kind = VerdictKind::NoMatch;
    v.reason = why;
    return v;
  }
  /// `rule` may be kNoRule: recognised, but no rule of this protocol applies.
  static Verdict match(std::uint32_t rule) noexcept {
    Verdict v;
    v.kind = VerdictKind::Match;
    v.rule = rule;
    return v;
  }
};

}  // namespace passthru::sdk
