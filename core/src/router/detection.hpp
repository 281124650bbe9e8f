// Detection: decides, from a connection's first bytes, which rule of a listener applies.
// Protocols are consulted in the order the config lists them, and a later protocol's Match
// counts only once every earlier one has said NoMatch, so the outcome never depends on how the
// bytes were split. A protocol is polled again only once the bytes it asked for have arrived.
// An UNWRAP rule (a trusted PROXY header) strips the header it matched, keeps the addresses and
// facts it carried, and starts over on the bytes after it, without that protocol.
// A rule with from / not_from applies only to clients they admit (the client being the address a
// trusted header adopted, else the TCP peer); the rule the protocol chose is otherwise replaced
// by its table's CATCHALL, if that admits the client, else the listener's CATCHALL decides
// (fallback no_rule). The protocol's own precedence is untouched, so file order still plays no part.
// It reads no socket. It allocates only to keep what a stripped header carried (rare), and a
// Decision's FactList copies the deciding protocol's facts.
#pragma once

#include <cstdint>
#include <memory>

#include "../config/config.hpp"
#include "fact_list.hpp"
#include "passthru/sdk/verdict.hpp"

namespace passthru::core {

/// Why the server CATCHALL was used. Tokens are stable: logs and tests read them.
enum class FallbackReason : std::uint8_t {
  NoProtocol,  ///< every protocol said no match
  NoRule,      ///< a protocol recognised its bytes, but none of its rules applies
  BufferFull,  ///< max_sniff_bytes reached before a decision
  ClientEof,   ///< the client stopped sending before a decision
  NoTunnel,    ///< a MUX rule's reverse tunnel is not up (or did not register the name)
  Timeout,     ///< timeout_ms reached before a decision (silent clients end here; keep it last: metrics count by it)
};

const char* to_token(FallbackReason reason) noexcept;

/// What UNWRAP rules stripped before the deciding protocol: how many bytes, and what they said.
struct Unwrapped {
  std::uint32_t offset = 0;  ///< bytes of headers at the start of the buffer, not to forward
  passthru::sdk::AdoptedAddresses adopted;  ///< the last header's addresses, when it had them
  FactList facts;                           ///< the last header's facts (proxy=v2, pp_authority…)
};

struct Decision {
  enum class Kind : std::uint8_t { Pending, Rule, ServerCatchall };
  Kind kind = Kind::Pending;
  const ProtocolTable* protocol = nullptr;  ///< Rule; also ServerCatchall after NoRule
  const Action* action = nullptr;           ///< Rule: the rule's action; ServerCatchall: the
                                            ///< server CATCHALL, or nullptr when it has none
  FallbackReason fallback = FallbackReason::NoProtocol;  ///< ServerCatchall only
  FactList facts;  ///< what the deciding protocol saw
};

class Detection {
 public:
  explicit Detection(const ServerConfig& server) noexcept : server_(&server) {}

  /// Called whenever bytes arrive (`bytes` is everything buffered so far). `eof`: the client
  /// has finished sending. `full`: the buffer is at max_sniff_bytes. Both make undecided
  /// protocols count as no match.
  /// `peer` is the TCP peer, for protocols that match on who sent the bytes.
  Decision advance(passthru::sdk::ByteSpan bytes, bool eof, bool full, const sockaddr* peer = nullptr) noexcept;

  /// The deadline passed: the server CATCHALL applies.
  [[nodiscard]] Decision on_timeout() const noexcept;

  /// What UNWRAP rules stripped; empty (offset 0) when none did.
  [[nodiscard]] const Unwrapped& unwrapped() const noexcept { return unwrapped_ ? *unwrapped_ : kNothingUnwrapped; }

  /// Leaves protocols[index] out of this detection (an M-PROXY stream is not itself a tunnel).
  void skip(std::uint32_t index) noexcept { used_ |= std::uint64_t{1} << index; }

 private:
  Decision fallback(FallbackReason reason, const ProtocolTable* protocol) const noexcept;
  /// `action` if its from / not_from admit the client; else its table's CATCHALL if that admits
  /// the client; else nullptr (the listener's CATCHALL decides).
  const Action* admitted(const ProtocolTable& table, const Action& action, const sockaddr* peer) const noexcept;

  const ServerConfig* server_;
  std::uint32_t current_ = 0;  ///< every protocol before this one said NoMatch
  std::uint32_t wanted_ = 0;   ///< poll protocols[current_] again at this many bytes
  std::uint64_t used_ = 0;     ///< protocols that already unwrapped a header (bit per index)
  /// Made only when a header is unwrapped: most connections have none, and keep no room for it.
  std::unique_ptr<Unwrapped> unwrapped_;
  static inline const Unwrapped kNothingUnwrapped{};
};

}  // namespace passthru::core
