// Detection: decides, from a connection's first bytes, which rule of a listener applies.
// Protocols are consulted in the order the config lists them, and a later protocol's Match
// counts only once every earlier one has said NoMatch, so the outcome never depends on how the
// bytes were split. A protocol is polled again only once the bytes it asked for have arrived.
// It neither reads sockets nor allocates: the per-connection state is two integers.
#pragma once

#include <cstdint>

#include "../config/config.hpp"
#include "passthru/sdk/verdict.hpp"

namespace passthru::core {

/// Why the server CATCHALL was used. Tokens are stable: logs and tests read them.
enum class FallbackReason : std::uint8_t {
  NoProtocol,  ///< every protocol said no match
  NoRule,      ///< a protocol recognised its bytes, but none of its rules applies
  BufferFull,  ///< max_sniff_bytes reached before a decision
  ClientEof,   ///< the client stopped sending before a decision
  Timeout,     ///< timeout_ms reached before a decision (silent clients end here)
};

const char* to_token(FallbackReason reason) noexcept;

struct Decision {
  enum class Kind : std::uint8_t { Pending, Rule, ServerCatchall };
  Kind kind = Kind::Pending;
  const ProtocolTable* protocol = nullptr;  ///< Rule; also ServerCatchall after NoRule
  const Action* action = nullptr;           ///< Rule: the rule's action; ServerCatchall: the
                                            ///< server CATCHALL, or nullptr when it has none
  FallbackReason fallback = FallbackReason::NoProtocol;  ///< ServerCatchall only
  passthru::sdk::Facts facts;  ///< what the deciding protocol saw
};

class Detection {
 public:
  explicit Detection(const ServerConfig& server) noexcept : server_(&server) {}

  /// Called whenever bytes arrive (`bytes` is everything buffered so far). `eof`: the client
  /// has finished sending. `full`: the buffer is at max_sniff_bytes. Both make undecided
  /// protocols count as no match.
  Decision advance(passthru::sdk::ByteSpan bytes, bool eof, bool full) noexcept;

  /// The deadline passed: the server CATCHALL applies.
  [[nodiscard]] Decision on_timeout() const noexcept;

 private:
  Decision fallback(FallbackReason reason, const ProtocolTable* protocol) const noexcept;

  const ServerConfig* server_;
  std::uint32_t current_ = 0;  ///< every protocol before this one said NoMatch
  std::uint32_t wanted_ = 0;   ///< poll protocols[current_] again at this many bytes
};

}  // namespace passthru::core
